"""Organizations, members, invitations and who sees what of them."""

INVITE = """mutation($i: InviteMemberInput!) { inviteMember(input: $i) {
  membership { role user { username } } invitation { email role } errors { code field } } }"""
ORG = """query($id: ID!) { organization(id: $id) { name viewerRole members { role user { username email } } } }"""


async def test_creator_is_admin_and_sees_emails_of_members(api, world):
    data = await api.data(ORG, {"id": world.ids["org"]}, world.admin)
    org = data["organization"]
    assert org["viewerRole"] == "ADMIN"
    assert {m["user"]["username"]: m["role"] for m in org["members"]} == {
        "admin1": "ADMIN", "manager1": "MEMBER", "contributor1": "MEMBER", "labeler1": "UNPRIVILEGED", "member1": "MEMBER"}
    assert all(m["user"]["email"] for m in org["members"])


async def test_members_see_only_their_own_email(api, world):
    org = (await api.data(ORG, {"id": world.ids["org"]}, world.member))["organization"]
    emails = {m["user"]["username"]: m["user"]["email"] for m in org["members"]}
    assert emails.pop("member1") == "member1@example.com"
    assert set(emails.values()) == {None}


async def test_unprivileged_members_cannot_list_members(api, world):
    body = await api.post(ORG, {"id": world.ids["org"]}, world.labeler)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["data"] == {"organization": None}
    data = await api.data("query($id: ID!) { organization(id: $id) { viewerRole datasets { id } } }",
                          {"id": world.ids["org"]}, world.labeler)
    assert data == {"organization": {"viewerRole": "UNPRIVILEGED", "datasets": []}}


async def test_another_organization_is_not_found_like_a_missing_one(api, world):
    foreign = await api.post(ORG, {"id": world.ids["other_org"]}, world.admin)
    missing = await api.post(ORG, {"id": world.ids["other_org"][:-2] + "zz"}, world.admin)
    for body in (foreign, missing):
        assert body["data"] == {"organization": None}
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert foreign["errors"][0]["message"] == missing["errors"][0]["message"]
    orgs = await api.data("{ organizations { name } }", token=world.admin)
    assert orgs == {"organizations": [{"name": "Acme"}]}


async def test_invitation_by_email_becomes_a_membership_at_sign_up(api, world):
    data = await api.data(INVITE, {"i": {"organizationId": world.ids["org"], "usernameOrEmail": "New.Person@Example.com",
                                         "role": "MEMBER"}}, world.admin)
    assert data["inviteMember"] == {"membership": None, "invitation": {"email": "new.person@example.com", "role": "MEMBER"},
                                    "errors": []}
    pending = await api.data("query($id: ID!) { organization(id: $id) { invitations { email } } }",
                             {"id": world.ids["org"]}, world.admin)
    assert pending["organization"]["invitations"] == [{"email": "new.person@example.com"}]
    token, _ = await api.data(
        "mutation { signUp(input: {username: \"newbie\", email: \"new.person@example.com\", password: \"correct horse battery\"}) { token } }"
    ), None
    token = token["signUp"]["token"]
    mine = await api.data("{ organizations { name viewerRole } }", token=token)
    assert mine == {"organizations": [{"name": "Acme", "viewerRole": "MEMBER"}]}
    after = await api.data("query($id: ID!) { organization(id: $id) { invitations { email } } }", {"id": world.ids["org"]}, world.admin)
    assert after["organization"]["invitations"] == []


async def test_invite_rules(api, world):
    org = world.ids["org"]
    again = await api.data(INVITE, {"i": {"organizationId": org, "usernameOrEmail": "member1", "role": "ADMIN"}}, world.admin)
    assert again["inviteMember"]["errors"] == [{"code": "ALREADY_EXISTS", "field": "input.usernameOrEmail"}]
    unknown = await api.data(INVITE, {"i": {"organizationId": org, "usernameOrEmail": "ghost", "role": "MEMBER"}}, world.admin)
    assert unknown["inviteMember"]["errors"] == [{"code": "INVALID_INPUT", "field": "input.usernameOrEmail"}]
    by_email = await api.data(INVITE, {"i": {"organizationId": org, "usernameOrEmail": "outsider1@example.com", "role": "MEMBER"}},
                              world.admin)
    assert by_email["inviteMember"]["membership"] == {"role": "MEMBER", "user": {"username": "outsider1"}}
    twice = {"i": {"organizationId": org, "usernameOrEmail": "later@example.com", "role": "MEMBER"}}
    assert (await api.data(INVITE, twice, world.admin))["inviteMember"]["errors"] == []
    assert (await api.data(INVITE, twice, world.admin))["inviteMember"]["errors"][0]["code"] == "ALREADY_EXISTS"


async def test_only_admins_invite_and_outsiders_get_not_found(api, world):
    variables = {"i": {"organizationId": world.ids["org"], "usernameOrEmail": "x@example.com", "role": "MEMBER"}}
    member = await api.post(INVITE, variables, world.manager)
    assert member["errors"][0]["extensions"]["code"] == "FORBIDDEN" and member["data"] is None
    outsider = await api.post(INVITE, variables, world.outsider)
    assert outsider["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    pending = await api.data("query($id: ID!) { organization(id: $id) { invitations { email } } }",
                             {"id": world.ids["org"]}, world.admin)
    assert pending["organization"]["invitations"] == []


async def test_create_organization_validates_its_name(api, world):
    for name in ("", "   ", "x" * 201):
        data = await api.data("mutation($n: String!) { createOrganization(input: {name: $n}) { organization { id } errors { code field } } }",
                              {"n": name}, world.member)
        assert data["createOrganization"] == {"organization": None, "errors": [{"code": "INVALID_INPUT", "field": "input.name"}]}
