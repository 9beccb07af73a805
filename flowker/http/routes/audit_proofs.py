"""``/v1/audit-events/{id}/proof`` and ``/v1/audit/consistency``: Merkle proofs over the audit log."""

from __future__ import annotations

from aiohttp import web

from flowker import codes
from flowker.http.keys import SERVICES
from flowker.http.render import json_response, path_id
from flowker.http.routes.audit import NOT_FOUND
from flowker.http.schemas import ConsistencyProofOutput, InclusionProofOutput
from flowker.http.spec import BAD_ID, TAG_AUDIT, error, line, ok, operation, param, query

routes = web.RouteTableDef()

_SIZE = {"type": "integer", "minimum": 1}
PARAMETERS = {
    "ProofTreeSize": query(
        "treeSize",
        _SIZE,
        "The tree to prove inclusion in: its first `treeSize` events (default: the whole log now). "
        f"Below the event's `sequence` or beyond the log is 400 {codes.INVALID_PROOF_RANGE}.",
    ),
    "ConsistencyFrom": {
        **query("from", _SIZE, "The older tree's size."),
        "required": True,
    },
    "ConsistencyTo": {
        **query("to", _SIZE, "The newer tree's size: from `from` to the log's size."),
        "required": True,
    },
}
_HASHING = (
    "The tree is RFC 9162's (RFC 6962's hashing) over the log in `sequence` order: the event of "
    "sequence `s` is leaf `s - 1`, whose hash is SHA-256(0x00 ‖ the 32 bytes of the event's `hash`); "
    "an inner node is SHA-256(0x01 ‖ left ‖ right). Hashes are base64 (standard, padded)."
)


@routes.get("/v1/audit-events/{id}/proof")
@operation(
    "getAuditEventProof",
    "Prove an audit event is in the log",
    TAG_AUDIT,
    "The inclusion proof (RFC 9162 §2.1.3) of the event in the tree of the first `treeSize` events, "
    f"and that tree's root. {_HASHING}",
    {"200": ok("The inclusion proof.", InclusionProofOutput)},
    {
        "400": error(
            "Invalid request",
            [
                BAD_ID,
                line(
                    codes.INVALID_PROOF_RANGE,
                    "`treeSize` is not a whole number, is below the event's `sequence` or beyond the log",
                ),
            ],
        ),
        **NOT_FOUND,
    },
    parameters=[param("AuditEventId"), param("ProofTreeSize")],
)
async def get_audit_event_proof(request: web.Request) -> web.Response:
    body = await request.app[SERVICES].audit.proof(path_id(request), request.query)
    return json_response(body, model=InclusionProofOutput)


@routes.get("/v1/audit/consistency")
@operation(
    "getAuditConsistency",
    "Prove the log only grew between two sizes",
    TAG_AUDIT,
    "The consistency proof (RFC 9162 §2.1.4) that the tree of the first `to` events extends the tree "
    f"of the first `from`, and the root at `to`. {_HASHING}",
    {"200": ok("The consistency proof.", ConsistencyProofOutput)},
    {
        "400": error(
            "Invalid range",
            [
                line(
                    codes.INVALID_PROOF_RANGE,
                    "`from` or `to` is missing or not a whole number, `from` is 0 or above `to`, or `to` is "
                    "beyond the log",
                )
            ],
        )
    },
    parameters=[param("ConsistencyFrom"), param("ConsistencyTo")],
)
async def get_audit_consistency(request: web.Request) -> web.Response:
    body = await request.app[SERVICES].audit.consistency(request.query)
    return json_response(body, model=ConsistencyProofOutput)
