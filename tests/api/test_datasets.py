"""Datasets, workers and versions: who may create, see and change them."""

from stepwise.schema.ids import encode_id

CREATE = "mutation($i: CreateDatasetInput!) { createDataset(input: $i) { dataset { name viewerRole } errors { code field } } }"
ADD_WORKER = "mutation($i: AddDatasetWorkerInput!) { addDatasetWorker(input: $i) { worker { role user { username } } errors { code field } } }"
VERSION = """mutation($i: CreateDatasetVersionInput!) { createDatasetVersion(input: $i) {
  datasetVersion { name labels { name } assetCount dataset { name } campaign { id } } errors { code field } } }"""
DATASET = "query($id: ID!) { dataset(id: $id) { name viewerRole organization { name } workers { role user { username } } versions { name } } }"


async def test_members_create_datasets_and_become_their_manager(api, world):
    data = await api.data(CREATE, {"i": {"organizationId": world.ids["org"], "name": "Parking lots"}}, world.member)
    assert data["createDataset"] == {"dataset": {"name": "Parking lots", "viewerRole": "MANAGER"}, "errors": []}
    again = await api.data(CREATE, {"i": {"organizationId": world.ids["org"], "name": "Parking lots"}}, world.admin)
    assert again["createDataset"]["errors"] == [{"code": "ALREADY_EXISTS", "field": "input.name"}]


async def test_unprivileged_members_cannot_create_datasets_and_outsiders_see_nothing(api, world):
    body = await api.post(CREATE, {"i": {"organizationId": world.ids["org"], "name": "Mine"}}, world.labeler)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await api.post(CREATE, {"i": {"organizationId": world.ids["org"], "name": "Mine"}}, world.outsider)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    names = await api.data("query($id: ID!) { organization(id: $id) { datasets { name } } }", {"id": world.ids["org"]}, world.admin)
    assert names == {"organization": {"datasets": [{"name": "Streets"}]}}


async def test_dataset_visibility_by_role(api, world):
    seen = await api.data(DATASET, {"id": world.ids["dataset"]}, world.contributor)
    assert seen["dataset"] == {
        "name": "Streets", "viewerRole": "CONTRIBUTOR", "organization": {"name": "Acme"},
        "workers": [{"role": "MANAGER", "user": {"username": "manager1"}},
                    {"role": "CONTRIBUTOR", "user": {"username": "contributor1"}},
                    {"role": "LABELER", "user": {"username": "labeler1"}}],
        "versions": [{"name": "v1"}]}
    admin = await api.data(DATASET, {"id": world.ids["dataset"]}, world.admin)
    assert admin["dataset"]["viewerRole"] == "MANAGER"  # ADMIN acts as MANAGER without being listed
    expectations = {world.labeler: "FORBIDDEN", world.member: "NOT_FOUND", world.outsider: "NOT_FOUND"}
    for token, code in expectations.items():
        body = await api.post(DATASET, {"id": world.ids["dataset"]}, token)
        assert body["data"] == {"dataset": None} and body["errors"][0]["extensions"]["code"] == code


async def test_ids_are_typed(api, world):
    dataset_pk = int(__import__("base64").urlsafe_b64decode(world.ids["dataset"] + "==").decode().split(":")[1])
    for wrong in (encode_id("Task", dataset_pk), encode_id("Organization", dataset_pk), "garbage"):
        body = await api.post(DATASET, {"id": wrong}, world.admin)
        assert body["data"] == {"dataset": None} and body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_adding_workers(api, world):
    ids = world.ids
    member = await api.data(ADD_WORKER, {"i": {"datasetId": ids["dataset"], "userId": ids["member"]}}, world.manager)
    assert member["addDatasetWorker"] == {"worker": {"role": "CONTRIBUTOR", "user": {"username": "member1"}}, "errors": []}
    promoted = await api.data(ADD_WORKER, {"i": {"datasetId": ids["dataset"], "userId": ids["member"], "role": "MANAGER"}}, world.manager)
    assert promoted["addDatasetWorker"]["worker"]["role"] == "MANAGER"
    labeler = await api.data(ADD_WORKER, {"i": {"datasetId": ids["dataset"], "userId": ids["labeler"], "role": "CONTRIBUTOR"}}, world.manager)
    assert labeler["addDatasetWorker"] == {"worker": None, "errors": [{"code": "INVALID_INPUT", "field": "input.role"}]}
    outsider = await api.post(ADD_WORKER, {"i": {"datasetId": ids["dataset"], "userId": ids["outsider"]}}, world.manager)
    assert outsider["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    by_contributor = await api.post(ADD_WORKER, {"i": {"datasetId": ids["dataset"], "userId": ids["member"]}}, world.contributor)
    assert by_contributor["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    roles = await api.data(DATASET, {"id": ids["dataset"]}, world.manager)
    assert {w["user"]["username"]: w["role"] for w in roles["dataset"]["workers"]}["labeler1"] == "LABELER"


async def test_creating_versions(api, world):
    ok = await api.data(VERSION, {"i": {"datasetId": world.ids["dataset"], "name": "v2", "labels": ["truck", " bus "]}}, world.manager)
    assert ok["createDatasetVersion"] == {"datasetVersion": {"name": "v2", "labels": [{"name": "bus"}, {"name": "truck"}],
                                                            "assetCount": 0, "dataset": {"name": "Streets"}, "campaign": None},
                                         "errors": []}
    cases = [
        ({"name": "v2", "labels": []}, "ALREADY_EXISTS", "input.name"),
        ({"name": "", "labels": []}, "INVALID_INPUT", "input.name"),
        ({"name": "v3", "labels": ["car", "car"]}, "INVALID_INPUT", "input.labels.1"),
        ({"name": "v3", "labels": ["car", ""]}, "INVALID_INPUT", "input.labels.1"),
    ]
    for values, code, field in cases:
        data = await api.data(VERSION, {"i": {"datasetId": world.ids["dataset"], **values}}, world.manager)
        assert data["createDatasetVersion"] == {"datasetVersion": None, "errors": [{"code": code, "field": field}]}, values
    forbidden = await api.post(VERSION, {"i": {"datasetId": world.ids["dataset"], "name": "v9", "labels": []}}, world.contributor)
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    versions = await api.data(DATASET, {"id": world.ids["dataset"]}, world.manager)
    assert versions["dataset"]["versions"] == [{"name": "v1"}, {"name": "v2"}]
