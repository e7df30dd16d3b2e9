"""Channel asset secrets at rest: encrypted with the field keys, never with SECRET_KEY, and
re-encrypted under a new key by `manage.py reencrypt_secrets`."""

import base64
import hashlib

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection

from channels_app.models import ChannelAsset
from tests.factories import ChannelAssetFactory

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def stored(asset: ChannelAsset, column: str = "access_token") -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {ChannelAsset._meta.db_table} WHERE id = %s", [asset.pk]
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_secrets_are_stored_encrypted_with_the_field_key_not_a_key_derived_from_secret_key(
    settings,
):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    asset = ChannelAssetFactory(access_token="EAAG-very-secret")

    raw = stored(asset)
    assert "EAAG-very-secret" not in raw
    assert Fernet(OLD_KEY.encode()).decrypt(raw.encode()) == b"EAAG-very-secret"
    from_secret_key = base64.urlsafe_b64encode(
        hashlib.sha256(settings.SECRET_KEY.encode()).digest()
    )
    with pytest.raises(InvalidToken):
        Fernet(from_secret_key).decrypt(raw.encode())


@pytest.mark.django_db
def test_changing_secret_key_leaves_stored_secrets_readable(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    asset = ChannelAssetFactory(access_token="EAAG-very-secret")

    settings.SECRET_KEY = "another-secret-key-" + "x" * 40

    assert ChannelAsset.objects.get(pk=asset.pk).access_token == "EAAG-very-secret"


@pytest.mark.django_db
def test_any_listed_key_decrypts_and_the_first_one_encrypts(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    old = ChannelAssetFactory(access_token="written-under-the-old-key")

    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    new = ChannelAssetFactory(access_token="written-under-the-new-key")

    assert ChannelAsset.objects.get(pk=old.pk).access_token == "written-under-the-old-key"
    assert Fernet(NEW_KEY.encode()).decrypt(stored(new).encode()) == b"written-under-the-new-key"


@pytest.mark.django_db
def test_a_secret_under_a_key_no_longer_listed_cannot_be_read(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    asset = ChannelAssetFactory()

    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]

    with pytest.raises(ValueError, match="cannot be decrypted"):
        ChannelAsset.objects.get(pk=asset.pk)


@pytest.mark.django_db
def test_reencrypt_secrets_moves_every_secret_to_the_new_key_so_the_old_key_can_go(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    first = ChannelAssetFactory(access_token="first-token", app_secret="first-app-secret")
    second = ChannelAssetFactory(access_token="second-token", auth_token="")
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    call_command("reencrypt_secrets", stdout=open("/dev/null", "w"))

    new = Fernet(NEW_KEY.encode())
    assert new.decrypt(stored(first).encode()) == b"first-token"
    assert new.decrypt(stored(first, "app_secret").encode()) == b"first-app-secret"
    assert new.decrypt(stored(second).encode()) == b"second-token"
    assert stored(second, "auth_token") == ""
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    assert ChannelAsset.objects.get(pk=first.pk).app_secret == "first-app-secret"
    assert ChannelAsset.objects.get(pk=second.pk).access_token == "second-token"
