"""An MLflow client whose REST stores carry this source's own credentials and request bounds.

MLflow's default REST stores read the token, user and password (and the request timeout and
retry count) from the process environment at every request. The workbench serves several
people from one process, so it never writes credentials there: it builds the stores itself,
``RestStore(get_host_creds)`` with :class:`mlflow.utils.rest_utils.MlflowHostCreds` made from
:class:`core.config.MlflowSettings`, and passes the timeout and retries to each request.

TLS options (``MLFLOW_TRACKING_INSECURE_TLS``, ``MLFLOW_TRACKING_CLIENT_CERT_PATH``,
``MLFLOW_TRACKING_SERVER_CERT_PATH``), SigV4 and auth plugins keep MLflow's own variables:
they are read from the environment as MLflow reads them, never written.
"""

from __future__ import annotations

import json
from typing import Any

from core.config import MlflowSettings


def host_creds(uri: str, conf: MlflowSettings) -> Any:
    """:class:`MlflowHostCreds` for ``uri``: credentials from ``conf``, TLS options as MLflow reads them."""
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import MlflowHostCreds

    base = get_default_host_creds(uri)  # TLS and auth-plugin options only; its credentials are replaced
    return MlflowHostCreds(
        host=uri, token=conf.token or None, username=conf.username or None, password=conf.password or None,
        aws_sigv4=base.aws_sigv4, auth=base.auth, ignore_tls_verification=base.ignore_tls_verification,
        client_cert_path=base.client_cert_path, server_cert_path=base.server_cert_path,
    )


def _call(creds: Any, endpoint: str, method: str, json_body: str | None, response_proto: Any, *,
          timeout: int, max_retries: int, extra_headers: dict[str, str] | None = None) -> Any:
    """``mlflow.utils.rest_utils.call_endpoint`` with an explicit timeout and retry count."""
    from mlflow.utils.proto_json_utils import parse_dict
    from mlflow.utils.rest_utils import http_request, verify_rest_response

    body = json.loads(json_body) if json_body is not None else None
    kwargs: dict[str, Any] = {"params": body} if method == "GET" else {"json": body}
    if extra_headers:
        kwargs["extra_headers"] = extra_headers
    response = http_request(creds, endpoint, method, max_retries=max_retries, timeout=timeout, **kwargs)
    response = verify_rest_response(response, endpoint)
    if response.status_code == 204:
        return response_proto
    parse_dict(js_dict=json.loads(response.text), message=response_proto)
    return response_proto


def _tracking_store(uri: str, conf: MlflowSettings, timeout: int, max_retries: int) -> Any:
    from mlflow.store.tracking.rest_store import RestStore

    class BoundedRestStore(RestStore):
        """The tracking REST store with per-client credentials, timeout and retries."""

        def _call_endpoint(self, api, json_body=None, endpoint=None, retry_timeout_seconds=None,
                           response_proto=None):
            v3 = getattr(self, "_V3_APIS", ())
            table = self._V3_METHOD_TO_INFO if api in v3 else self._METHOD_TO_INFO
            check = getattr(self, "_validate_workspace_support_if_specified", None)
            if check is not None:
                check()
            default_endpoint, method = table[api]
            return _call(self.get_host_creds(), endpoint or default_endpoint, method, json_body,
                         response_proto or api.Response(), timeout=timeout, max_retries=max_retries)

    return BoundedRestStore(lambda: host_creds(uri, conf))


def _registry_store(uri: str, conf: MlflowSettings, timeout: int, max_retries: int) -> Any:
    from mlflow.exceptions import RestException
    from mlflow.protos.databricks_pb2 import ENDPOINT_NOT_FOUND, ErrorCode
    from mlflow.store.model_registry.rest_store import RestStore

    class BoundedRegistryRestStore(RestStore):
        """The model-registry REST store with per-client credentials, timeout and retries."""

        def _call_endpoint(self, api, json_body, call_all_endpoints=False, extra_headers=None):
            check = getattr(self, "_validate_workspace_support_if_specified", None)
            if check is not None:
                check()
            response_proto = self._get_response_from_method(api)
            endpoints = (self._get_all_endpoints_from_method(api) if call_all_endpoints
                         else [self._get_endpoint_from_method(api)])
            for i, (endpoint, method) in enumerate(endpoints):
                try:
                    return _call(self.get_host_creds(), endpoint, method, json_body, response_proto,
                                 timeout=timeout, max_retries=max_retries, extra_headers=extra_headers)
                except RestException as exc:
                    if exc.error_code != ErrorCode.Name(ENDPOINT_NOT_FOUND) or i == len(endpoints) - 1:
                        raise

    return BoundedRegistryRestStore(lambda: host_creds(uri, conf))


def attach_rest_stores(client: Any, tracking_uri: str, registry_uri: str, conf: MlflowSettings, *,
                       timeout: int, max_retries: int) -> None:
    """Give ``client`` (an ``MlflowClient``) REST stores built from ``conf`` for whichever of its
    URIs is ``http(s)://``; other stores (SQLite, folders) have no credentials and stay as they are."""
    from mlflow.tracking._model_registry.client import ModelRegistryClient
    from mlflow.tracking._tracking_service.client import TrackingServiceClient

    if tracking_uri.startswith(("http://", "https://")):
        store = _tracking_store(tracking_uri, conf, timeout, max_retries)

        class Tracking(TrackingServiceClient):
            def __init__(self) -> None:  # noqa: D107 - no store lookup by URI
                self.tracking_uri = tracking_uri

            @property
            def store(self):
                return store

        client._tracking_client = Tracking()
    if registry_uri.startswith(("http://", "https://")):
        reg_store = _registry_store(registry_uri, conf, timeout, max_retries)

        class Registry(ModelRegistryClient):
            def __init__(self) -> None:  # noqa: D107 - no store lookup by URI
                self.registry_uri = registry_uri
                self.tracking_uri = tracking_uri

            @property
            def store(self):
                return reg_store

        client._registry_client_lazy = Registry()


def list_artifacts(client: Any, run_id: str, path: str | None) -> list[Any]:
    """The artifacts under ``path`` of ``run_id``, asked of the tracking server itself (``ListArtifacts``),
    so the listing carries this client's credentials rather than the environment's."""
    from mlflow.entities import FileInfo
    from mlflow.protos.service_pb2 import ListArtifacts
    from mlflow.utils.proto_json_utils import message_to_json

    store = client._tracking_client.store
    out: list[Any] = []
    token = None
    while True:
        req = ListArtifacts(run_id=run_id)
        if path:
            req.path = path
        if token:
            req.page_token = token
        resp = store._call_endpoint(ListArtifacts, message_to_json(req))
        out += [FileInfo(f.path, f.is_dir, f.file_size if f.HasField("file_size") else None) for f in resp.files]
        token = resp.next_page_token if resp.HasField("next_page_token") else None
        if not token:
            return out
