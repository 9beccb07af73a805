"""The workflow interpreter, driven as the supervisor drives it: decisions carried out against canned
provider answers, the run state persisted as JSON after every decision."""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from flowker.dsl.interpreter import Decision, Interpreter, Outcome, UnexpectedResult
from flowker.dsl.model import WorkflowDefinition
from flowker.dsl.run_state import (
    ExecutionStatus,
    ExecutorCall,
    NodeState,
    RunState,
    StepRecord,
    StepStatus,
)
from tests.helpers.fixtures import compliance_workflow

NOW = "2026-03-01T10:00:00.000000Z"
CALLED_AT = "2026-03-01T10:00:01.000000Z"
CALL_MS = 120
COMPLETED, FAILED = StepStatus.COMPLETED, StepStatus.FAILED


@dataclass(frozen=True)
class Failure:
    """A canned answer: the provider call fails for good."""

    message: str
    output: Any = None


def ok(body: Any) -> dict[str, Any]:
    return {"status": 200, "headers": {"Content-Type": "application/json"}, "body": body}


def persisted(state: RunState) -> RunState:
    """The state as another process reads it back, checked to round-trip exactly."""
    restored = RunState.from_dict(orjson.loads(orjson.dumps(state.to_dict())))
    assert restored == state
    assert restored.to_dict() == state.to_dict()
    return restored


@dataclass
class Driver:
    """A supervisor in miniature: answers calls first in, first out, persisting the state as it goes."""

    definition: WorkflowDefinition
    answers: dict[str, dict[str, Any] | Failure]
    interpreter: Interpreter = field(init=False)
    decisions: list[Decision] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    bodies: dict[str, Any] = field(default_factory=dict)
    issued: list[list[str]] = field(default_factory=list)  # node ids of the calls of each decision

    def __post_init__(self) -> None:
        self.interpreter = Interpreter(self.definition)

    def run(self, input_data: dict[str, Any]) -> Outcome:
        return self.carry_on(self.interpreter.start(input_data, NOW))

    def carry_on(self, decision: Decision, in_flight: list[ExecutorCall] | None = None) -> Outcome:
        queue = deque(in_flight or [])
        while True:
            self.decisions.append(decision)
            self.steps += decision.steps
            assert [s.step_number for s in decision.steps] == sorted(s.step_number for s in decision.steps)
            state = persisted(decision.state)
            if decision.outcome is not None:
                return decision.outcome
            self.issued.append([call.node_id for call in decision.calls])
            queue.extend(decision.calls)
            decision = self.answer(state, queue.popleft())

    def answer(self, state: RunState, call: ExecutorCall) -> Decision:
        self.bodies[call.node_id] = call.body
        answer = self.answers[call.node_id]
        if isinstance(answer, Failure):
            return self.interpreter.call_failed(
                state, call.node_id, answer.message, CALLED_AT, CALL_MS, NOW, answer.output
            )
        return self.interpreter.call_succeeded(state, call.node_id, answer, CALLED_AT, CALL_MS, NOW)

    def summary(self) -> list[tuple[int, str, StepStatus]]:
        return [(s.step_number, s.node_id, s.status) for s in self.steps]


# --- definitions -------------------------------------------------------------------------------------

TRIGGER = {"id": "start", "type": "trigger", "data": {"triggerId": "webhook"}}


def executor(node_id: str, **data: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "executor",
        "data": {"executorConfigId": f"cfg-{node_id}", "endpointName": "call", **data},
    }


def action(node_id: str, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "action", "data": data}


def conditional(node_id: str, condition: str) -> dict[str, Any]:
    return {"id": node_id, "type": "conditional", "data": {"condition": condition}}


def edge(source: str, target: str, handle: str | None = None, condition: str | None = None) -> dict[str, Any]:
    return {
        "id": f"{source}->{target}",
        "source": source,
        "target": target,
        "sourceHandle": handle,
        "condition": condition,
    }


def workflow(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> WorkflowDefinition:
    return WorkflowDefinition.model_validate({"name": "test", "nodes": [TRIGGER, *nodes], "edges": edges})


def compliance() -> WorkflowDefinition:
    """Section 9.2 of the reference: KYC, then AML and approval on low risk, else rejection."""
    return WorkflowDefinition.model_validate(compliance_workflow("cfg-kyc", "cfg-aml"))


LOW_RISK = {"customer": {"cpf": "123.456.789-00", "name": "John Doe"}, "transaction": {"amount": 1500.50}}
HIGH_RISK = {"customer": {"cpf": "999.999.999-99", "name": "Risky Person"}, "transaction": {"amount": 50000}}
KYC_LOW = ok({"customerId": "CUST-001", "riskScore": 25, "status": "approved"})
KYC_HIGH = ok({"customerId": "CUST-999", "riskScore": 85, "status": "review"})
AML_OK = ok({"amlStatus": "cleared", "referenceId": "AML-REF-9876"})


def approve_driver() -> Driver:
    return Driver(compliance(), {"kyc-executor": KYC_LOW, "aml-executor": AML_OK})


# --- the reference workflow ---------------------------------------------------------------------------


def test_compliance_approve_path() -> None:
    driver = approve_driver()
    outcome = driver.run(LOW_RISK)

    assert outcome == Outcome(ExecutionStatus.COMPLETED, {"decision": "approved"}, None)
    assert driver.interpreter.total_steps == 5
    assert driver.bodies == {
        "kyc-executor": {"document": "12345678900", "fullName": "JOHN DOE"},
        "aml-executor": {"customerId": "CUST-001", "transactionAmount": 1500.5},
    }
    assert driver.summary() == [
        (1, "kyc-executor", COMPLETED),
        (2, "risk-check", COMPLETED),
        (3, "aml-executor", COMPLETED),
        (4, "approve-action", COMPLETED),
    ]
    kyc, risk, aml, approve = driver.steps
    assert kyc == StepRecord(
        1,
        "kyc-executor",
        "KYC Validation",
        COMPLETED,
        {"result": {"customerId": "CUST-001", "riskScore": 25}},
        None,
        CALLED_AT,
        CALL_MS,
    )
    assert risk.output == {
        "condition": "kyc-executor.result.riskScore < 50",
        "result": True,
        "branchTaken": "true",
    }
    assert (risk.step_name, risk.executed_at, risk.duration_ms) == ("Risk Assessment", NOW, 0)
    assert aml.output == {"result": {"amlStatus": "cleared", "referenceId": "AML-REF-9876"}}
    assert approve.output == {"actionType": "set_output", "output": {"decision": "approved"}}
    final = driver.decisions[-1].state
    assert final.nodes["reject-action"] == NodeState.SKIPPED
    assert final.edges == {"e1": True, "e2": True, "e3": True, "e4": False, "e5": True}
    assert final.steps_taken == 4 and final.running == {}


def test_compliance_reject_path() -> None:
    driver = Driver(compliance(), {"kyc-executor": KYC_HIGH})
    outcome = driver.run(HIGH_RISK)

    assert outcome == Outcome(
        ExecutionStatus.COMPLETED, {"decision": "rejected", "reason": "high risk score"}, None
    )
    assert driver.summary() == [
        (1, "kyc-executor", COMPLETED),
        (2, "risk-check", COMPLETED),
        (3, "reject-action", COMPLETED),
    ]
    assert driver.steps[1].output["branchTaken"] == "false"
    assert "aml-executor" not in driver.bodies
    assert driver.decisions[-1].state.nodes["aml-executor"] == NodeState.SKIPPED
    assert driver.decisions[-1].state.nodes["approve-action"] == NodeState.SKIPPED


def test_compliance_aml_failure_fails_the_run() -> None:
    message = "executor call failed after 5 attempts: status 500"
    answer = Failure(message, ok({"error": "boom"}) | {"status": 500})
    driver = Driver(compliance(), {"kyc-executor": KYC_LOW, "aml-executor": answer})
    outcome = driver.run(LOW_RISK)

    assert outcome.status == ExecutionStatus.FAILED
    assert outcome.error_message == f'node "aml-executor": {message}'
    assert outcome.final_output is None
    assert driver.summary() == [
        (1, "kyc-executor", COMPLETED),
        (2, "risk-check", COMPLETED),
        (3, "aml-executor", FAILED),
    ]
    aml = driver.steps[2]
    assert (aml.error_message, aml.output, aml.executed_at) == (message, answer.output, CALLED_AT)
    state = driver.decisions[-1].state
    assert state.nodes["aml-executor"] == NodeState.FAILED
    assert state.nodes["approve-action"] == NodeState.WAITING
    assert "aml-executor" not in state.context


# --- persistence and resumption ------------------------------------------------------------------------


def test_every_decision_of_the_approve_path_resumes_from_json_in_a_fresh_interpreter() -> None:
    reference = approve_driver()
    expected = reference.run(LOW_RISK)
    assert len(reference.decisions) == 3

    for index, decision in enumerate(reference.decisions[:-1]):
        state = RunState.from_dict(orjson.loads(orjson.dumps(decision.state.to_dict())))
        resumed = approve_driver()
        in_flight = resumed.interpreter.resume(state)
        assert in_flight == decision.calls
        outcome = resumed.carry_on(Decision(state, [], [], None), in_flight)
        assert outcome == expected
        assert resumed.steps == [step for later in reference.decisions[index + 1 :] for step in later.steps]
        assert resumed.decisions[-1].state == reference.decisions[-1].state, f"resumed at decision {index}"


def test_resume_rebuilds_calls_in_flight_with_their_original_bodies() -> None:
    definition = workflow([executor("a"), executor("b")], [edge("start", "a"), edge("start", "b")])
    interpreter = Interpreter(definition)
    started = interpreter.start({"id": 7}, NOW)
    assert interpreter.resume(started.state) == started.calls

    after_a = interpreter.call_succeeded(started.state, "a", ok({"x": 1}), CALLED_AT, CALL_MS, NOW)
    state = persisted(after_a.state)
    assert "a" in state.context
    # b's call went out before a answered: rebuilt now, it must still not carry a's output.
    assert interpreter.resume(state) == [started.calls[1]]
    assert started.calls[1].body == {"workflow": {"id": 7}}


def test_resume_of_an_ended_run_has_no_calls() -> None:
    driver = approve_driver()
    driver.run(LOW_RISK)
    assert driver.interpreter.resume(driver.decisions[-1].state) == []


def test_run_state_round_trips_with_every_node_state() -> None:
    state = RunState(
        context={"workflow": {"amount": 1500.5, "tags": ["a", None], "ok": True}, "n": {"é": "ü"}},
        nodes={str(s): s for s in NodeState},
        edges={"e1": True, "e2": False},
        running={"running": 3},
        steps_taken=3,
        final_output=None,
        has_final_output=True,
    )
    assert persisted(state).nodes["cancelled"] is NodeState.CANCELLED


def test_step_record_to_dict_uses_the_api_names_and_leaves_out_none() -> None:
    done = StepRecord(2, "risk", "Risk", COMPLETED, {"result": True}, None, NOW, 0)
    failed = StepRecord(3, "aml", "AML", FAILED, None, "boom", NOW, 12)
    assert done.to_dict() == {
        "stepNumber": 2,
        "stepName": "Risk",
        "nodeId": "risk",
        "status": "completed",
        "output": {"result": True},
        "executedAt": NOW,
        "durationMs": 0,
    }
    assert "output" not in failed.to_dict() and failed.to_dict()["errorMessage"] == "boom"
    for record in (done, failed):
        assert StepRecord.from_dict(orjson.loads(orjson.dumps(record.to_dict()))) == record


def test_terminal_statuses() -> None:
    assert {s for s in ExecutionStatus if s.is_terminal} == {
        ExecutionStatus.COMPLETED,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
    }


# --- edges and joins ---------------------------------------------------------------------------------


def test_edge_conditions_decide_which_edges_fire() -> None:
    definition = workflow(
        [action("big"), action("small"), action("after-small"), conditional("check", "workflow.vip")],
        [
            edge("start", "big", condition="workflow.amount > 100"),
            edge("start", "small", condition="workflow.amount <= 100"),
            edge("small", "after-small"),
            edge("start", "check"),
            # The branch taken and the edge condition must both hold.
            edge("check", "after-small", handle="true", condition="workflow.amount > 100"),
        ],
    )
    driver = Driver(definition, {})
    driver.run({"amount": 250, "vip": True})
    state = driver.decisions[-1].state
    assert driver.summary() == [(1, "big", COMPLETED), (2, "check", COMPLETED), (3, "after-small", COMPLETED)]
    assert state.edges["start->big"] is True
    assert state.edges["start->small"] is False
    assert state.nodes["small"] == NodeState.SKIPPED

    driver = Driver(definition, {})
    driver.run({"amount": 50, "vip": True})
    assert driver.summary() == [
        (1, "small", COMPLETED),
        (2, "check", COMPLETED),
        (3, "after-small", COMPLETED),
    ]
    assert driver.decisions[-1].state.edges["check->after-small"] is False


def test_edge_condition_error_fails_the_run_without_a_step() -> None:
    definition = workflow(
        [action("log"), action("next")],
        [edge("start", "log"), edge("log", "next", condition="workflow.missing == 1")],
    )
    driver = Driver(definition, {})
    outcome = driver.run({"amount": 1})
    assert outcome.status == ExecutionStatus.FAILED
    assert outcome.error_message == (
        "edge \"log->next\": field path 'workflow.missing' does not exist: 'workflow' has no field 'missing'"
    )
    assert driver.summary() == [(1, "log", COMPLETED)]


def diamond() -> WorkflowDefinition:
    return workflow(
        [executor("a"), executor("b"), executor("c")],
        [edge("start", "a"), edge("start", "b"), edge("a", "c"), edge("b", "c")],
    )


@pytest.mark.parametrize("first", ["a", "b"])
def test_diamond_runs_both_branches_at_once_and_the_join_once(first: str) -> None:
    interpreter = Interpreter(diamond())
    started = interpreter.start({"id": 1}, NOW)
    assert [(c.step_number, c.node_id, c.executor_config_id) for c in started.calls] == [
        (1, "a", "cfg-a"),
        (2, "b", "cfg-b"),
    ]
    second = "b" if first == "a" else "a"
    one = interpreter.call_succeeded(started.state, first, ok(first), CALLED_AT, CALL_MS, NOW)
    assert one.calls == [] and one.outcome is None
    assert one.state.nodes["c"] == NodeState.WAITING
    two = interpreter.call_succeeded(one.state, second, ok(second), CALLED_AT, CALL_MS, NOW)
    assert [(c.step_number, c.node_id) for c in two.calls] == [(3, "c")]
    assert two.calls[0].body == {"workflow": {"id": 1}, first: ok(first), second: ok(second)}
    done = interpreter.call_succeeded(two.state, "c", ok("c"), CALLED_AT, CALL_MS, NOW)
    assert done.outcome is not None and done.outcome.status == ExecutionStatus.COMPLETED
    assert done.outcome.final_output == {
        "workflow": {"id": 1},
        first: ok(first),
        second: ok(second),
        "c": ok("c"),
    }
    assert done.state.steps_taken == 3


def test_join_is_skipped_when_every_branch_is_skipped() -> None:
    definition = workflow(
        [conditional("check", "workflow.go"), executor("a"), executor("b"), executor("c"), action("end")],
        [
            edge("start", "check"),
            edge("check", "a", handle="true"),
            edge("check", "b", handle="true"),
            edge("a", "c"),
            edge("b", "c"),
            edge("check", "end", handle="false"),
        ],
    )
    driver = Driver(definition, {})
    outcome = driver.run({"go": False})
    assert outcome.status == ExecutionStatus.COMPLETED
    assert driver.summary() == [(1, "check", COMPLETED), (2, "end", COMPLETED)]
    assert driver.issued == []
    assert {n: driver.decisions[-1].state.nodes[n] for n in "abc"} == dict.fromkeys("abc", NodeState.SKIPPED)


def test_join_waits_for_a_branch_until_a_conditional_skips_it() -> None:
    definition = workflow(
        [
            executor("fast"),
            executor("slow"),
            conditional("check", "slow.body.go"),
            executor("b"),
            executor("c"),
        ],
        [
            edge("start", "fast"),
            edge("start", "slow"),
            edge("slow", "check"),
            edge("check", "b", handle="true"),
            edge("fast", "c"),
            edge("b", "c"),
        ],
    )
    interpreter = Interpreter(definition)
    started = interpreter.start({}, NOW)
    assert [c.node_id for c in started.calls] == ["fast", "slow"]
    fast = interpreter.call_succeeded(started.state, "fast", ok({}), CALLED_AT, CALL_MS, NOW)
    assert fast.calls == [] and fast.state.nodes["c"] == NodeState.WAITING
    slow = interpreter.call_succeeded(fast.state, "slow", ok({"go": False}), CALLED_AT, CALL_MS, NOW)
    assert [(s.step_number, s.node_id) for s in slow.steps] == [(2, "slow"), (3, "check")]
    assert slow.state.nodes["b"] == NodeState.SKIPPED
    assert [(c.step_number, c.node_id) for c in slow.calls] == [(4, "c")]
    done = interpreter.call_succeeded(slow.state, "c", ok({}), CALLED_AT, CALL_MS, NOW)
    assert done.outcome is not None and done.outcome.status == ExecutionStatus.COMPLETED
    assert done.state.steps_taken == 4


def test_a_node_sees_its_upstream_nodes_only() -> None:
    # "peek" runs after "a" has answered, but "a" is on a parallel branch: what it holds is invisible.
    definition = workflow(
        [executor("a"), executor("b"), conditional("peek", "a.status == 200")],
        [edge("start", "a"), edge("start", "b"), edge("b", "peek")],
    )
    driver = Driver(definition, {"a": ok({}), "b": ok({})})
    outcome = driver.run({})
    assert outcome.error_message == (
        "node \"peek\": field path 'a.status' does not exist: the context has no field 'a'"
    )


def test_unreachable_nodes_are_skipped_and_do_not_block_a_join() -> None:
    definition = workflow(
        [executor("island"), action("log"), action("joined")],
        [edge("start", "log"), edge("log", "joined"), edge("island", "joined")],
    )
    interpreter = Interpreter(definition)
    started = interpreter.start({}, NOW)
    assert started.calls == []
    assert started.outcome is not None and started.outcome.status == ExecutionStatus.COMPLETED
    assert started.state.nodes == {
        "start": NodeState.DONE,
        "island": NodeState.SKIPPED,
        "log": NodeState.DONE,
        "joined": NodeState.DONE,
    }
    assert started.state.edges["island->joined"] is False
    assert [s.node_id for s in started.steps] == ["log", "joined"]


# --- failures -----------------------------------------------------------------------------------------


def test_a_failing_branch_ends_the_run_and_abandons_the_other() -> None:
    interpreter = Interpreter(diamond())
    started = interpreter.start({}, NOW)
    failed = interpreter.call_failed(started.state, "a", "connection refused", CALLED_AT, 5, NOW)
    assert failed.outcome == Outcome(ExecutionStatus.FAILED, None, 'node "a": connection refused')
    assert failed.calls == []
    assert failed.steps == [
        StepRecord(1, "a", "executor_a", FAILED, None, "connection refused", CALLED_AT, 5)
    ]
    assert failed.state.running == {}
    assert failed.state.nodes["b"] == NodeState.CANCELLED
    assert interpreter.resume(failed.state) == []
    with pytest.raises(UnexpectedResult):
        interpreter.call_succeeded(failed.state, "b", ok({}), CALLED_AT, CALL_MS, NOW)


def test_a_failure_in_the_same_decision_cancels_calls_not_yet_issued() -> None:
    definition = workflow(
        [executor("a"), conditional("bad", "workflow.nope")],
        [edge("start", "a"), edge("start", "bad")],
    )
    started = Interpreter(definition).start({}, NOW)
    assert started.calls == []
    assert started.outcome is not None and started.outcome.status == ExecutionStatus.FAILED
    assert started.state.nodes["a"] == NodeState.CANCELLED
    assert [(s.step_number, s.node_id, s.status) for s in started.steps] == [(2, "bad", FAILED)]


def test_missing_required_source_fails_the_step_without_a_call() -> None:
    mapping = [{"source": "workflow.cpf", "target": "document", "required": True}]
    definition = workflow([executor("kyc", inputMapping=mapping)], [edge("start", "kyc")])
    started = Interpreter(definition).start({"name": "x"}, NOW)
    message = "required source path 'workflow.cpf' is missing"
    assert started.calls == []
    assert started.steps == [StepRecord(1, "kyc", "executor_kyc", FAILED, None, message, NOW, 0)]
    assert started.outcome == Outcome(ExecutionStatus.FAILED, None, f'node "kyc": {message}')


def test_missing_required_output_field_fails_the_step() -> None:
    mapping = [{"source": "body.id", "target": "id", "required": True}]
    definition = workflow([executor("kyc", outputMapping=mapping)], [edge("start", "kyc")])
    driver = Driver(definition, {"kyc": ok({"other": 1})})
    outcome = driver.run({})
    assert outcome.error_message == "node \"kyc\": required source path 'body.id' is missing"
    assert driver.steps == [
        StepRecord(
            1,
            "kyc",
            "executor_kyc",
            FAILED,
            None,
            "required source path 'body.id' is missing",
            CALLED_AT,
            120,
        )
    ]
    assert "kyc" not in driver.decisions[-1].state.context


def test_conditional_evaluation_error_fails_the_step() -> None:
    definition = workflow([conditional("check", "workflow.score > 'high'")], [edge("start", "check")])
    driver = Driver(definition, {})
    outcome = driver.run({"score": 10})
    assert outcome.status == ExecutionStatus.FAILED
    assert driver.summary() == [(1, "check", FAILED)]
    assert outcome.error_message == f'node "check": {driver.steps[0].error_message}'
    assert "cannot compare" in (driver.steps[0].error_message or "")


# --- outputs ------------------------------------------------------------------------------------------


def test_the_last_set_output_wins() -> None:
    definition = workflow(
        [
            action("first", actionType="set_output", output={"v": 1}),
            action("second", actionType="set_output", output={"v": 2}),
        ],
        [edge("start", "first"), edge("first", "second")],
    )
    assert Driver(definition, {}).run({}).final_output == {"v": 2}


def test_without_set_output_the_final_output_is_the_whole_context() -> None:
    # Section 9.7 of the reference: a "log" action is a step whose output is the node data.
    definition = workflow(
        [{"id": "log-event", "type": "action", "data": {"action": "log"}}], [edge("start", "log-event")]
    )
    data = {"transactionId": "txn-98765", "amount": 1500, "currency": "BRL"}
    driver = Driver(definition, {})
    outcome = driver.run(data)
    assert outcome.final_output == {"workflow": data, "log-event": {"action": "log"}}
    assert driver.steps == [
        StepRecord(1, "log-event", "action_log-event", COMPLETED, {"action": "log"}, None, NOW, 0)
    ]


def test_an_executor_without_input_mapping_receives_its_whole_context() -> None:
    definition = workflow([executor("a"), executor("b")], [edge("start", "a"), edge("a", "b")])
    driver = Driver(definition, {"a": ok({"x": 1}), "b": ok({})})
    driver.run({"id": 3})
    assert driver.bodies["b"] == {"workflow": {"id": 3}, "a": ok({"x": 1})}


# --- delivery and purity ----------------------------------------------------------------------------


def test_duplicate_and_unknown_results_are_rejected() -> None:
    interpreter = Interpreter(compliance())
    started = interpreter.start(LOW_RISK, NOW)
    after = interpreter.call_succeeded(started.state, "kyc-executor", KYC_LOW, CALLED_AT, CALL_MS, NOW)
    with pytest.raises(UnexpectedResult):
        interpreter.call_succeeded(after.state, "kyc-executor", KYC_LOW, CALLED_AT, CALL_MS, NOW)
    with pytest.raises(UnexpectedResult):
        interpreter.call_failed(after.state, "kyc-executor", "late", CALLED_AT, CALL_MS, NOW)
    for node_id in ("risk-check", "approve-action", "nowhere"):
        with pytest.raises(UnexpectedResult):
            interpreter.call_succeeded(after.state, node_id, ok({}), CALLED_AT, CALL_MS, NOW)
    assert issubclass(UnexpectedResult, ValueError)


def test_the_state_passed_in_is_never_modified() -> None:
    interpreter = Interpreter(compliance())
    input_data = copy.deepcopy(LOW_RISK)
    started = interpreter.start(input_data, NOW)
    input_data["customer"]["name"] = "changed"
    assert started.state.context["workflow"] == LOW_RISK

    before = orjson.dumps(started.state.to_dict())
    response = copy.deepcopy(KYC_LOW)
    after_kyc = interpreter.call_succeeded(started.state, "kyc-executor", response, CALLED_AT, CALL_MS, NOW)
    assert orjson.dumps(started.state.to_dict()) == before
    response["body"]["riskScore"] = 99

    before = orjson.dumps(after_kyc.state.to_dict())
    interpreter.call_succeeded(after_kyc.state, "aml-executor", AML_OK, CALLED_AT, CALL_MS, NOW)
    interpreter.call_failed(after_kyc.state, "aml-executor", "down", CALLED_AT, CALL_MS, NOW)
    interpreter.resume(after_kyc.state)
    assert orjson.dumps(after_kyc.state.to_dict()) == before


@pytest.mark.parametrize(
    ("nodes", "edges", "message"),
    [
        ([conditional("c", "a ==")], [edge("start", "c")], "expected an operand"),
        ([conditional("c", "")], [edge("start", "c")], "condition must be a non-empty string"),
        ([action("a")], [edge("start", "a", condition="(x")], "unbalanced parentheses"),
        (
            [executor("x", inputMapping=[{"source": "a..b", "target": "b"}])],
            [edge("start", "x")],
            "segment 2",
        ),
        ([{"id": "x", "type": "executor", "data": {"endpointName": "e"}}], [], "executorConfigId"),
        ([{"id": "x", "type": "trigger"}], [], "exactly one trigger node, found 2"),
        ([action("a"), action("b")], [edge("start", "a"), edge("a", "b"), edge("b", "a")], "cycle"),
        ([{"id": "x", "type": "loop"}], [], "is not a node type"),
        ([action("a")], [edge("start", "ghost")], "no such node"),
    ],
)
def test_definitions_that_cannot_run_are_refused(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Interpreter(workflow(nodes, edges))


def test_a_halted_result_is_recorded_and_nothing_after_it_runs() -> None:
    definition = workflow(
        [executor("score"), action("done", actionType="set_output", output={"ok": True})],
        [edge("start", "score"), edge("score", "done")],
    )
    interpreter = Interpreter(definition)
    started = interpreter.start({}, NOW)
    halted = interpreter.call_succeeded(started.state, "score", ok({"s": 1}), NOW, 5, NOW, halt=True)
    assert [(s.node_id, s.status) for s in halted.steps] == [("score", COMPLETED)]
    assert halted.calls == []
    assert halted.outcome == Outcome(ExecutionStatus.CANCELLED, None, "cancelled")
    assert halted.state.nodes["done"] == "waiting"
    assert halted.state.context["score"] == ok({"s": 1})


def test_a_halted_run_whose_last_step_was_in_flight_is_completed() -> None:
    definition = workflow([executor("score")], [edge("start", "score")])
    interpreter = Interpreter(definition)
    started = interpreter.start({}, NOW)
    halted = interpreter.call_succeeded(started.state, "score", ok({"s": 1}), NOW, 5, NOW, halt=True)
    assert halted.outcome is not None and halted.outcome.status == ExecutionStatus.COMPLETED
    assert halted.outcome.final_output == {"workflow": {}, "score": ok({"s": 1})}


def test_a_halted_run_waits_for_its_other_calls_in_flight() -> None:
    definition = workflow(
        [executor("a"), executor("b"), action("join")],
        [edge("start", "a"), edge("start", "b"), edge("a", "join"), edge("b", "join")],
    )
    interpreter = Interpreter(definition)
    started = interpreter.start({}, NOW)
    first = interpreter.call_succeeded(started.state, "a", ok({}), NOW, 5, NOW, halt=True)
    assert first.outcome is None and first.calls == []
    second = interpreter.call_succeeded(first.state, "b", ok({}), NOW, 5, NOW, halt=True)
    assert second.outcome == Outcome(ExecutionStatus.CANCELLED, None, "cancelled")
    assert second.state.nodes["join"] == "waiting"
