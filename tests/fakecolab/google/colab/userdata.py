"""Stand-in for google.colab.userdata: Colab secrets, read from the JSON file $FAKECOLAB_SECRETS."""
import json
import os


class SecretNotFoundError(Exception):
    """Raised, as in Colab, for a secret the user has not added."""


def get(key):
    path = os.environ.get("FAKECOLAB_SECRETS")
    secrets = json.loads(open(path).read()) if path and os.path.isfile(path) else {}
    if key not in secrets:
        raise SecretNotFoundError(f"Secret {key} does not exist.")
    return secrets[key]
