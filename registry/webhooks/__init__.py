"""dakora.registry.webhooks — outgoing webhooks, signed per Standard Webhooks.

A project subscribes URLs to events (``endpoints``); the push pipeline queues the
events of each push in the same transaction as its audit rows (``events``); a worker
in each server process delivers them with retries and backoff, and each outbox row is
the delivery log (``worker``); one attempt signs, checks the address and POSTs
(``delivery``) under the SSRF policy (``addresses``). See docs/webhooks.md.

Other layers import from this face; the modules behind it are private.
"""

from dakora.registry.webhooks.addresses import (
    AddressRefused,
    address_problem,
    check_url,
    parse_url,
)
from dakora.registry.webhooks.delivery import (
    Attempt,
    body_bytes,
    deliver,
    signed_headers,
)
from dakora.registry.webhooks.endpoints import (
    EVENT_TYPES,
    MAX_ENDPOINTS_PER_PROJECT,
    PROMPT_VERSION_CREATED,
    PUSH_REJECTED,
    REF_UPDATED,
    Endpoint,
    NewEndpoint,
    add_endpoint,
    get_endpoint,
    list_endpoints,
    parse_events,
    remove_endpoint,
)
from dakora.registry.webhooks.events import CreatedVersion, enqueue_push_events
from dakora.registry.webhooks.worker import (
    DELIVERY_STATUSES,
    WebhookService,
    WebhookWorker,
    delivery_dict,
    delivery_page,
    next_delay,
)

__all__ = [
    "DELIVERY_STATUSES",
    "EVENT_TYPES",
    "MAX_ENDPOINTS_PER_PROJECT",
    "PROMPT_VERSION_CREATED",
    "PUSH_REJECTED",
    "REF_UPDATED",
    "AddressRefused",
    "Attempt",
    "CreatedVersion",
    "Endpoint",
    "NewEndpoint",
    "WebhookService",
    "WebhookWorker",
    "add_endpoint",
    "address_problem",
    "body_bytes",
    "check_url",
    "deliver",
    "delivery_dict",
    "delivery_page",
    "enqueue_push_events",
    "get_endpoint",
    "list_endpoints",
    "next_delay",
    "parse_events",
    "parse_url",
    "remove_endpoint",
    "signed_headers",
]
