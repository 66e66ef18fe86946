"""Azure Blob Storage backend (``azure-storage-blob``).

Authenticates with a connection string, or an account URL plus
``DefaultAzureCredential`` from the optional ``azure-identity`` package. Azure errors are
translated here: a failed condition becomes ``RefConflict``; anything else that keeps
the mirror from working becomes ``StorageError`` (the outbox retries it later).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import ContainerClient, LinearRetry

from dakora.registry.core import ConfigError, RefConflict, StorageError

if TYPE_CHECKING:
    from dakora.registry.core import Settings

# Azurite and older Azure stacks accept this API version; newer SDKs send a newer one.
API_VERSION = "2021-12-02"


class AzureBlobStore:
    def __init__(self, container: ContainerClient) -> None:
        self.container = container
        self._ensured = False

    @classmethod
    def from_settings(cls, settings: Settings) -> AzureBlobStore:
        name = settings.azure_container
        # Few, short SDK retries: the outbox retries with its own backoff, and the
        # storage SDK's default (15 s, 3x) would stall the worker during an outage.
        kwargs: dict[str, Any] = {
            "api_version": API_VERSION,
            "retry_policy": LinearRetry(
                backoff=1, retry_total=2, random_jitter_range=0
            ),
            "connection_timeout": 5,
            "read_timeout": 60,
        }
        if settings.azure_connection_string:
            container = ContainerClient.from_connection_string(
                settings.azure_connection_string.get_secret_value(), name, **kwargs
            )
        elif settings.azure_account_url:
            try:
                from azure.identity import DefaultAzureCredential
            except ImportError as exc:
                raise ConfigError(
                    "DAKORA_AZURE_ACCOUNT_URL needs the optional azure-identity "
                    "package: pip install 'dakora[azure]'"
                ) from exc
            container = ContainerClient(
                settings.azure_account_url,
                name,
                credential=DefaultAzureCredential(),
                **kwargs,
            )
        else:
            raise ConfigError(
                "mirror backend azure needs DAKORA_AZURE_CONNECTION_STRING or "
                "DAKORA_AZURE_ACCOUNT_URL"
            )
        return cls(container)

    def _ensure_container(self) -> None:
        if self._ensured:
            return
        try:
            self.container.create_container()
        except ResourceExistsError:
            pass
        except AzureError as exc:
            raise StorageError(f"blob storage unavailable: {exc}") from exc
        self._ensured = True

    def put_new(self, name: str, data: bytes) -> bool:
        self._ensure_container()
        try:
            self.container.upload_blob(name, data, overwrite=False)
        except ResourceExistsError:
            return False
        except AzureError as exc:
            raise StorageError(f"blob storage unavailable: {exc}") from exc
        return True

    def get(self, name: str) -> tuple[bytes, str] | None:
        self._ensure_container()
        try:
            downloader = self.container.download_blob(name)
            data = downloader.readall()
            etag = downloader.properties.etag
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise StorageError(f"blob storage unavailable: {exc}") from exc
        return data, etag

    def put_if(self, name: str, data: bytes, etag: str | None) -> str:
        self._ensure_container()
        try:
            blob = self.container.get_blob_client(name)
            if etag is None:
                result = blob.upload_blob(data, overwrite=False)
            else:
                result = blob.upload_blob(
                    data,
                    overwrite=True,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceExistsError, ResourceModifiedError) as exc:
            raise RefConflict(f"blob {name} changed concurrently") from exc
        except AzureError as exc:
            if getattr(exc, "status_code", None) == 412:
                raise RefConflict(f"blob {name} changed concurrently") from exc
            raise StorageError(f"blob storage unavailable: {exc}") from exc
        return str(result["etag"])

    def exists(self, name: str) -> bool:
        self._ensure_container()
        try:
            return bool(self.container.get_blob_client(name).exists())
        except AzureError as exc:
            raise StorageError(f"blob storage unavailable: {exc}") from exc

    def list(self, prefix: str) -> list[str]:
        self._ensure_container()
        try:
            return sorted(
                b.name for b in self.container.list_blobs(name_starts_with=prefix)
            )
        except AzureError as exc:
            raise StorageError(f"blob storage unavailable: {exc}") from exc
