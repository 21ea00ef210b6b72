"""signUp, logIn, me, tokens: as a client sees them."""

from stepwise.models.db.accounts import ApiToken

SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { token user { id username email } errors { code field } } }"
LOG_IN = "mutation($i: LogInInput!) { logIn(input: $i) { token user { username } errors { code field message } } }"
ME = "{ me { username email } }"


async def test_sign_up_gives_a_working_token_stored_only_hashed(api):
    data = await api.data(SIGN_UP, {"i": {"username": "ada", "email": "Ada@Example.com", "password": "correct horse battery"}})
    payload = data["signUp"]
    assert payload["errors"] == [] and payload["token"].startswith("swt_")
    assert payload["user"]["email"] == "ada@example.com"
    assert await api.data(ME, token=payload["token"]) == {"me": {"username": "ada", "email": "ada@example.com"}}
    stored = await ApiToken.all().values_list("token_hash", flat=True)
    assert payload["token"] not in stored and all(len(h) == 64 for h in stored)


async def test_log_in_issues_a_new_token_and_failures_look_the_same(api):
    first, _ = await api.sign_up("ada")
    data = await api.data(LOG_IN, {"i": {"username": "ada", "password": "correct horse battery"}})
    assert data["logIn"]["token"] not in (None, first) and data["logIn"]["user"] == {"username": "ada"}
    wrong = await api.data(LOG_IN, {"i": {"username": "ada", "password": "wrong password!!"}})
    unknown = await api.data(LOG_IN, {"i": {"username": "nobody", "password": "wrong password!!"}})
    assert wrong == unknown == {"logIn": {"token": None, "user": None, "errors": [
        {"code": "INVALID_CREDENTIALS", "field": None, "message": "Unknown username or wrong password."}]}}


async def test_passwords_are_hashed_with_the_standard_profile_unless_told_otherwise(settings_env):
    """Real accounts get argon2id with 64 MiB and 3 passes; the suite's "fast" hashes (1 MiB, 1
    pass) still verify under it, since a hash records its own parameters."""
    from conftest import _app_api

    from stepwise.models.db.accounts import User

    async for fast in _app_api(settings_env):  # the suite's settings: fast
        await fast.sign_up("ada")
        assert "$m=1024,t=1,p=1$" in (await User.get(username="ada")).password_hash
    async for standard in _app_api({**settings_env, "STEPWISE_PASSWORD_HASHING": "standard"}):
        await standard.sign_up("bob")
        assert "$argon2id$" in (bob := (await User.get(username="bob")).password_hash) and "$m=65536,t=3,p=4$" in bob
        logged_in = await standard.data(LOG_IN, {"i": {"username": "ada", "password": "correct horse battery"}})
        assert logged_in["logIn"]["token"]  # ada's fast hash verifies under the standard profile


async def test_me_is_null_without_or_with_a_bad_token(api):
    assert await api.data(ME) == {"me": None}
    assert await api.data(ME, token="swt_not-a-real-token") == {"me": None}
    assert await api.data(ME, token="x" * 5000) == {"me": None}


async def test_bad_sign_ups_are_typed_and_create_nothing(api):
    await api.sign_up("ada")
    cases = [
        ({"username": "bo", "email": "bo@example.com", "password": "correct horse battery"}, "INVALID_INPUT", "input.username"),
        ({"username": "bob", "email": "not-an-email", "password": "correct horse battery"}, "INVALID_INPUT", "input.email"),
        ({"username": "bob", "email": "bob@example.com", "password": "short"}, "INVALID_INPUT", "input.password"),
        ({"username": "bob", "email": "bob@example.com", "password": "password123"}, "INVALID_INPUT", "input.password"),
        ({"username": "ADA", "email": "bob@example.com", "password": "correct horse battery"}, "ALREADY_EXISTS", "input.username"),
        ({"username": "bob", "email": "ada@example.com", "password": "correct horse battery"}, "ALREADY_EXISTS", "input.email"),
        ({"username": "bob", "email": "bob@example.com", "password": "x" * 100_000}, "INVALID_INPUT", "input.password"),
    ]
    for values, code, field in cases:
        payload = (await api.data(SIGN_UP, {"i": values}))["signUp"]
        assert payload["token"] is None and payload["user"] is None
        assert payload["errors"] == [{"code": code, "field": field}], values
    assert (await api.data(LOG_IN, {"i": {"username": "bob", "password": "correct horse battery"}}))["logIn"]["token"] is None


async def test_everything_but_sign_up_log_in_and_me_needs_credentials(api):
    for query in ("{ organizations { id } }", '{ dataset(id: "x") { id } }', '{ node(id: "x") { id } }'):
        body = await api.post(query)
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", query
    body = await api.post('mutation { createOrganization(input: {name: "x"}) { errors { code } } }', token="swt_bogus")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert body["data"] is None


async def test_a_refused_token_is_told_apart_from_no_token(api, world):
    """No credentials: sign in first; credentials that name no session: invalid or expired."""
    query = "query($o: ID!) { organization(id: $o) { name } }"
    missing = await api.post(query, {"o": world.ids["org"]})
    assert missing["errors"][0]["message"] == "Sign in first: send 'Authorization: Bearer <token>'."
    for token in ("swt_bogus", "not-even-a-token"):
        refused = await api.post(query, {"o": world.ids["org"]}, token=token)
        assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert refused["errors"][0]["message"].startswith("Invalid or expired token"), refused
        assert refused["data"] == {"organization": None}
