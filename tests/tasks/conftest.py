import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """make_user hashes a password for every user; the default hasher's 1M rounds would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def _empty_static_root(tmp_path_factory):
    return tmp_path_factory.mktemp("staticfiles")


@pytest.fixture(autouse=True)
def _static_files_without_manifest(settings, _empty_static_root):
    """Pages render `{% static %}`; with DEBUG off the manifest storage needs `collectstatic` first (`make test`
    runs it). Plain storage lets these tests run from a fresh checkout; the browser tests cover the real assets."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.STATIC_ROOT = _empty_static_root  # WhiteNoise warns on every request when it is missing
