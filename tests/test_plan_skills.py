"""`ivr plan` with agents shared by queues (skills: a priority order, the fraud queue
first) and callbacks made in the window the flow's advice gives.

Shared agents are simulated event by event (``ivr.plan.skills``): with two queues of
equal handle time and patience served by one group, the pooled queue is M/M/n+M at the
combined rate whatever the order (the number waiting moves the same way), so its
P(wait), P(abandon), mean time in queue and busy agents must be Erlang A's inside their
99 % batch-means intervals, as ``tests/test_plan.py`` holds the fast path.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from datetime import date, datetime, time, timedelta

import pytest
from click.testing import CliRunner

from ivr.cli import cli
from ivr.errors import MenuError
from ivr.plan import arrivals, centre, skills
from ivr.plan.centre import Duration, GroupSetup, QueueSetup, Rules
from ivr.plan.figures import figures
from ivr.plan.scenario import callback_windows
from ivr.plan.staffing import Group, dump_plan, from_traffic, parse_plan_file
from ivr.queue import erlang
from ivr.queue import traffic as traffic_file
from ivr.queue.advice import Centre
from ivr.queue.simulate import Estimate

AHT_S, PATIENCE_S, AGENTS, TARGET_S = 300.0, 600.0, 10, 20.0
BATCHES, BATCH_H = 20, 10.0
QUEUES = ("payments", "account-security", "fraud", "complaints", "general")


class _ByClass:
    """The tree bypassed: class 0 goes to the first queue, class 1 to the second."""

    def __init__(self, *names: str) -> None:
        self.names = names

    def walk(self, klass, u):
        return centre.QUEUED, 0.0, self.names[klass]


def _two_classes(per_hour: float, hours: float, share_first: float, seed: int):
    rng = random.Random(seed)
    calls, t = [], 0.0
    while True:
        t += rng.expovariate(per_hour / 3600)
        if t >= hours * 3600:
            return calls
        calls.append((t, int(rng.random() >= share_first)))


def _estimate(values):
    mean = math.fsum(values) / len(values)
    var = math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return Estimate(mean, math.sqrt(var / len(values)), len(values))


@pytest.mark.parametrize("load", [0.8, 1.5])
def test_one_group_over_two_alike_queues_is_erlang_a_pooled(load):
    """10 shared agents serve 'a' and 'b' (no agents of their own), half the calls each,
    the caller waiting longest first: pooled, the M/M/10+M queue at the combined rate,
    its ASA too."""
    per_hour = load * AGENTS / AHT_S * 3600
    intervals = BATCHES + 2
    calls = _two_classes(per_hour, intervals * BATCH_H, 0.5, seed=7)
    setups = {q: QueueSetup(q, Duration("exponential", AHT_S),
                            Duration("exponential", PATIENCE_S), (0,) * intervals,
                            (True,) * intervals) for q in ("a", "b")}
    group = GroupSetup("both", ("a", "b"), (AGENTS,) * intervals)
    rules = Rules(interval_s=BATCH_H * 3600, target_s=TARGET_S, wait_threshold_s=math.inf,
                  callback_take=0.0)
    day = centre.run(calls, _ByClass("a", "b"), setups, rules, 3, (group,), skills.pool)
    a, b, g = day.queues["a"], day.queues["b"], day.groups["both"]
    batches = []
    for i in range(1, intervals - 1):
        offered = a.offered[i] + b.offered[i]
        batches.append({"p_wait": (a.waited[i] + b.waited[i]) / offered,
                        "p_abandon": (a.abandoned[i] + b.abandoned[i]) / offered,
                        "mean_wait_s": (a.queue_time_s[i] + b.queue_time_s[i]) / offered,
                        "asa_s": (a.wait_answered_s[i] + b.wait_answered_s[i])
                        / (a.answered[i] + b.answered[i]),
                        "busy": g.busy_s[i] / (BATCH_H * 3600), "offered": offered})
    exact = erlang.erlang_a_metrics(per_hour, AHT_S, AGENTS, PATIENCE_S, TARGET_S)
    mu = 1 / AHT_S
    for name in ("p_wait", "p_abandon", "mean_wait_s", "asa_s"):
        estimate = _estimate([b[name] for b in batches])
        assert estimate.covers(getattr(exact, name)), (name, estimate, getattr(exact, name))
    rate = per_hour / 3600
    assert _estimate([b["busy"] for b in batches]).covers(rate * (1 - exact.p_abandon) / mu)
    # the group's time is split by the queue served, and adds up
    assert sum(g.busy_by_queue_s.values()) == pytest.approx(sum(g.busy_s), rel=1e-9)
    assert sum(a.busy_s) == sum(b.busy_s) == 0  # no agents of their own


def _busy_two_queue_day(groups, own_a=0, own_b=0, threshold=math.inf, take=0.0, seed=5):
    intervals = 16
    calls = _two_classes(150.0, 8.0, 0.4, seed)
    open_a = (True,) * 12 + (False,) * 2 + (True,) * 2
    setups = {"fraud": QueueSetup("fraud", Duration("exponential", 300.0),
                                  Duration("exponential", 400.0), (own_a,) * intervals, open_a),
              "account": QueueSetup("account", Duration("exponential", 300.0),
                                    Duration("exponential", 400.0), (own_b,) * intervals,
                                    (True,) * intervals)}
    rules = Rules(interval_s=1800.0, wait_threshold_s=threshold, callback_take=take,
                  retry_share=0.3)
    return centre.run(calls, _ByClass("fraud", "account"), setups, rules, seed, groups,
                      skills.pool)


@pytest.mark.parametrize(("threshold", "take", "order"), [
    (math.inf, 0.0, ("fraud", "account")), (90.0, 0.5, ("fraud", "account")),
    (math.inf, 0.0, ("account", "fraud"))])
def test_fraud_first_waits_less_and_every_caller_is_counted(threshold, take, order):
    """Fraud first whatever the plan file's order, as the live line's agents take them."""
    group = GroupSetup("risk desk", order, (11,) * 16)
    day = _busy_two_queue_day((group,), own_a=1, threshold=threshold, take=take)
    rows = figures([day]).totals
    fraud, account = rows["fraud"], rows["account"]
    assert fraud.asa_s < account.asa_s / 2
    assert fraud.abandoned / fraud.offered < account.abandoned / account.offered
    for tally in day.queues.values():
        for i, offered in enumerate(tally.offered):
            assert offered == tally.answered[i] + tally.abandoned[i] + tally.booked[i]
        # every callback booked is made or owed
        assert sum(tally.served) + tally.owed == sum(tally.booked) + sum(tally.booked_closed)
        assert sum(tally.closed) == 0 or tally is day.queues["fraud"]
    assert sum(day.queues["fraud"].closed) > 0
    if take:
        assert sum(t.booked[i] for t in day.queues.values() for i in range(16)) > 0
    # fraud's own agent's time is fraud's; the group's is split by the queue served
    assert sum(day.queues["fraud"].busy_s) > 0 and sum(day.queues["account"].busy_s) == 0
    split = day.groups["risk desk"].busy_by_queue_s
    assert split["fraud"] > 0 and split["account"] > 0
    # seeded: the same seed, the same day
    assert day == _busy_two_queue_day((group,), own_a=1, threshold=threshold, take=take)


#: the fast path's figures before skills and callback windows, on the day below
#: (callbacks off): the regression the shared agents must leave alone
BEFORE = "bbed76c813092e38f41c1037f0b55bdc9643dcace7e2c6bf0fa8b16f254dd426"
FIELDS = ("offered", "answered", "abandoned", "within", "waited", "wait_answered_s",
          "queue_time_s", "booked", "served", "retrials", "closed", "busy_s")


class _Regression:
    def walk(self, klass, u):
        if u < 0.1:
            return centre.HUNG_UP, 30.0, None
        return centre.QUEUED, 20.0 + 40 * u, ("a" if klass == 0 else "b")


def test_a_plan_without_groups_gives_the_same_figures_as_before():
    rng = random.Random(5)
    calls, t = [], 0.0
    while True:
        t += rng.expovariate(150 / 3600)
        if t >= 8 * 3600:
            break
        calls.append((t, int(rng.random() < 0.4)))
    queues = {"a": QueueSetup("a", Duration("exponential", 300.0), Duration("exponential", 400.0),
                              tuple([4] * 6 + [7] * 6 + [0] * 2 + [5] * 2),
                              (True,) * 12 + (False,) * 2 + (True,) * 2),
              "b": QueueSetup("b", Duration("lognormal", 200.0, 0.6),
                              Duration("lognormal", 300.0, 0.8), tuple([3] * 8 + [2] * 8),
                              (True,) * 16)}
    rules = Rules(interval_s=1800.0, wait_threshold_s=math.inf, retry_share=0.3,
                  callback_take=0.0)
    day = centre.run(calls, _Regression(), queues, rules, 11)
    text = repr([(name, [getattr(tally, f) for f in FIELDS])
                 for name, tally in sorted(day.queues.items())]) + repr(day.hotline)
    assert hashlib.sha256(text.encode()).hexdigest() == BEFORE
    assert day.groups == {}


def test_a_plan_file_reads_groups_and_writes_them_back():
    data = {"interval_min": 30, "payments": {"08:00-12:00": 13},
            "groups": {"risk desk": {"queues": ["fraud", "account-security"],
                                     "agents": {"08:00-22:00": 6}}}}
    read = parse_plan_file(data, "plan.yaml", QUEUES, 1800.0)
    assert read.groups == (Group("risk desk", ("fraud", "account-security"),
                                 (0,) * 16 + (6,) * 28 + (0,) * 4),)
    assert read.agents["payments"][16:24] == [13] * 8
    written = dump_plan({n: tuple(r) for n, r in read.agents.items()}, 1800.0, read.groups)
    assert written["groups"] == data["groups"]
    assert parse_plan_file(written, "again", QUEUES, 1800.0) == read
    # the old format is still one
    assert parse_plan_file({"fraud": [2] * 48}, "old", QUEUES, 1800.0).groups == ()


def test_a_plan_files_bad_groups_are_listed_with_their_locations():
    data = {"groups": {"risk desk": {"queues": ["fruad", "payments", "payments"],
                                     "agents": {"08:00-08:10": 3}},
                       "empty": {"queues": [], "agents": [1] * 48},
                       "no agents": {"queues": ["general"]},
                       "odd": {"queues": ["general"], "agents": [1, 2], "skills": 3},
                       "flat": "fraud"}}
    with pytest.raises(MenuError) as error:
        parse_plan_file(data, "plan.yaml", QUEUES, 1800.0)
    said = str(error.value)
    for where, what in [("groups.risk desk.queues[0]", "did you mean 'fraud'?"),
                        ("groups.risk desk.queues[2]", "'payments' is already in this group"),
                        ("groups.risk desk.agents.08:00-08:10", "interval's edge"),
                        ("groups.empty.queues", "needs a list of one queue or more"),
                        ("groups.no agents.agents", "missing"),
                        ("groups.odd.agents", "needs 48 whole numbers"),
                        ("groups.odd.skills", "unknown key"),
                        ("groups.flat", "expected 'queues'")]:
        assert where in said and what in said, (where, what, said)
    with pytest.raises(MenuError, match="groups.*must map"):
        parse_plan_file({"groups": ["fraud"]}, "plan.yaml", QUEUES, 1800.0)


# -- callbacks ------------------------------------------------------------------------

NOON, WINDOW = 24, (14 * 3600.0, 16 * 3600.0)


@pytest.mark.parametrize("shared", [False, True])
def test_a_callback_booked_at_noon_is_made_in_its_window_not_before(shared):
    """A crowd at 12:00 on two agents: those told a long wait book a callback, whose
    window is 14:00-16:00; each falls due at a moment drawn in it, so none is made before
    it, and those the two agents reach only after 16:00 are counted late."""
    rng = random.Random(2)
    calls = sorted((12 * 3600 + rng.random() * 1800, 0) for _ in range(60))
    windows = tuple(WINDOW if i == NOON else (math.inf, math.inf) for i in range(48))
    setup = QueueSetup("q", Duration("exponential", 300.0), Duration("exponential", 600.0),
                       (0,) * 48 if shared else (2,) * 48, (True,) * 48, windows)
    groups = (GroupSetup("g", ("q",), (2,) * 48),) if shared else ()
    rules = Rules(interval_s=1800.0, wait_threshold_s=120.0, callback_take=1.0)
    day = centre.run(calls, _ByClass("q"), {"q": setup}, rules, 1, groups, skills.pool)
    tally = day.queues["q"]
    booked = tally.booked[NOON]
    assert booked > 10 and sum(tally.booked) == booked
    assert sum(tally.served[:28]) == 0 and sum(tally.served) == booked and tally.owed == 0
    assert sum(tally.served[28:32]) >= booked * 3 // 4
    assert sum(tally.late) == sum(tally.served[32:])


def test_the_window_is_the_soonest_of_the_advices_best():
    traffic = traffic_file.load()
    days = arrivals.days_from(traffic, date(2026, 11, 11), 1)
    windows = callback_windows(traffic, days, 1800.0)
    midnight = datetime.combine(date(2026, 11, 11), time(0), tzinfo=traffic.zone)
    for name in ("payments", "fraud"):
        for i in (NOON, NOON + 1, 45):
            best = Centre(traffic).advise(name, midnight + timedelta(seconds=i * 1800)).windows[0]
            assert windows[name][i] == ((best.start - midnight).total_seconds(),
                                        (best.end - midnight).total_seconds())


@pytest.mark.parametrize("days", [1, 2])
def test_callers_finding_payments_closed_are_called_back_next_morning(days):
    """At 23:00 payments is shut: callers book a callback into the next morning's
    window, made that morning when the run spans it, owed when it does not."""
    traffic = traffic_file.load()
    chosen = arrivals.days_from(traffic, date(2026, 11, 11), days)
    agents, opened = from_traffic(traffic, chosen, 1800.0)
    windows = callback_windows(traffic, chosen, 1800.0)
    setup = QueueSetup("payments", Duration("exponential", 300.0),
                       Duration("exponential", 600.0), agents["payments"], opened["payments"],
                       windows["payments"])
    calls = [(23 * 3600 + 60.0 * k, 0) for k in range(20)]
    rules = Rules(interval_s=1800.0, callback_take=0.5)
    tally = centre.run(calls, _ByClass("payments"), {"payments": setup}, rules, 4
                       ).queues["payments"]
    assert sum(tally.closed) == 20 and sum(tally.offered) == 0
    booked = sum(tally.booked_closed)
    assert 3 <= booked <= 17
    if days == 1:
        assert tally.owed == booked and sum(tally.served) == 0
        return
    start, end = windows["payments"][46]
    assert 86400 + 8 * 3600 <= start < end <= 86400 + 12 * 3600
    made = [i for i, n in enumerate(tally.served) for _ in range(n)]
    assert len(made) == booked and tally.owed == 0
    assert all(start <= i * 1800 < end for i in made)


# -- the command ------------------------------------------------------------------------

PLAN = """interval_min: 60
groups:
  risk desk:
    queues: [fraud, account-security]   # fraud first
    agents: {"08:00-22:00": 3}
"""


def test_the_command_says_which_queues_share_which_agents(workdir):
    (workdir / "plan.yaml").write_text(PLAN, "utf-8")
    args = ["plan", "--date", "2026-11-11", "--scale", "0.3", "--staffing", "plan.yaml"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "shared agents: risk desk (3 at most, 42 agent-hours) serve fraud, " \
           "account-security (fraud first, else the longest waiting); occupancy" in result.output
    out = json.loads(CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False).output)
    group = out["groups"]["risk desk"]
    assert group["queues"] == ["fraud", "account-security"] and group["agent_hours"] == 42
    assert sum(v for v in group["busy_share"].values()) == pytest.approx(1.0)
    # a bad group is refused with its location
    (workdir / "bad.yaml").write_text("groups:\n  desk:\n    queues: [frawd]\n"
                                      "    agents: [1]\n", "utf-8")
    bad = CliRunner().invoke(cli, ["plan", "--date", "2026-11-11", "--staffing", "bad.yaml"])
    assert bad.exit_code == 1
    assert "groups.desk.queues[0]" in bad.output and "did you mean 'fraud'" in bad.output


def test_staff_for_keeps_the_groups_and_says_so(workdir):
    (workdir / "plan.yaml").write_text(PLAN, "utf-8")
    result = CliRunner().invoke(cli, ["plan", "--date", "2026-11-11", "--scale", "0.2",
                                      "--interval", "60", "--staffing", "plan.yaml",
                                      "--staff-for", "0.8/20", "--seeds", "2", "-o", "out.yaml"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "the shared agents (risk desk) are kept as the plan file gives them" in result.output
    written = (workdir / "out.yaml").read_text("utf-8")
    assert "risk desk" in written and "fraud" in written


def test_callbacks_booked_in_the_tree_are_made_by_the_queue_the_caller_wanted(workdir):
    """An emergency switch on payments all day: payments callers book a callback in the
    tree instead of queueing; each is for payments, falls due in its window and is made
    by payments' agents (or owed at the end), and the hotline's count is theirs."""
    from ivr.cli.args import app_settings
    from ivr.flow.notices import Notice, read_scope
    from ivr.plan import inputs

    settings = app_settings()
    sources = inputs.read(settings)
    moment = datetime(2026, 11, 11, tzinfo=sources.traffic.zone)
    switch = Notice(1, {"zh-CN": "付款暂停。", "en-US": "Payments are paused."},
                    read_scope("queue:payments"), moment, moment + timedelta(days=1),
                    emergency=True)
    planned = inputs.prepare(sources, settings, date(2026, 11, 11),
                             inputs.Options(notices=(switch,)))
    day = planned.scenario.run(0)
    payments = day.queues["payments"]
    in_tree = sum(payments.booked_tree)
    assert in_tree > 100 and sum(sum(t.booked_tree) for t in day.queues.values()) == \
        in_tree == sum(day.hotline["callback"])
    assert sum(payments.offered) < in_tree  # the switch sends them to callbacks, not the queue
    made = sum(payments.served)
    assert made > 0 and made + payments.owed == in_tree + sum(payments.booked) + \
        sum(payments.booked_closed)
    shown = figures([day])
    assert shown.totals["payments"].booked_tree == in_tree
    assert shown.totals["payments"].booked >= in_tree
