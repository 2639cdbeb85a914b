from conftest import admin_client, project_client


def test_sdk_lists_projects_and_files(sim):
    c = admin_client(sim)
    projects = list(c.admin.organization.projects.list(include_archived=True, limit=2))
    assert len(projects) == len(sim.world.projects)
    files = list(project_client(sim).files.list(limit=7))
    assert files and all(f.object == "file" for f in files)
