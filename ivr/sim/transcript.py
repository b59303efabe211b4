"""Trace events as lines a person reads: what the caller hears, presses and where the
call ends. Used by ``ivr call`` (live and scripted) and scenario failure reports."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ivr.plural import counted
from ivr.sim.trace import Trace


def describe(
    e: Mapping[str, Any], words: Callable[[Mapping[str, Any]], str | None] | None = None
) -> str:
    """One event as ``  12.3s  say      Welcome ...``; a played prompt with its ``words``."""
    kind = str(e["type"])
    detail = _DETAIL[kind](e) if kind in _DETAIL else ""
    said = words(e) if words and kind == "play" and e.get("url") else None
    if said and said != e.get("url"):
        detail += f'  "{said}"'
    return f"{e['t']:7.1f}s  {kind:<8} {detail}".rstrip()


def summary(trace: Trace) -> str:
    o = trace.outcome
    where = f" in queue '{o.queue}'" if o.queue else ""
    return f"call ended by {o.ended_by}{where} after {o.duration_s:.1f} s ({o.requests} requests)"


def lines(
    trace: Trace, words: Callable[[Mapping[str, Any]], str | None] | None = None
) -> list[str]:
    """The whole call; ``words`` may give the text behind a played prompt."""
    return [describe(e, words) for e in trace.events] + [summary(trace)]


def _say(e: Mapping[str, Any]) -> str:
    loop = f"  (x{e['loop'] or 'forever'})" if e.get("loop", 1) != 1 else ""
    return f"{e['text']}{loop}  [{e.get('voice')}, {e.get('language')}]"


def _play(e: Mapping[str, Any]) -> str:
    if e.get("digits"):
        return f"tones {e['digits']}"
    name = urlsplit(str(e["url"])).path.rsplit("/", 1)[-1] or e["url"]
    return f"{name}  ({e.get('duration_s', 0):.1f} s)"


def _gather(e: Mapping[str, Any]) -> str:
    what = (
        counted(int(e["num_digits"]), "key")
        if e.get("num_digits")
        else f"keys ending with {e.get('finish_on_key') or 'silence'}"
    )
    if "speech" in str(e.get("input")):
        what = "speech" if "dtmf" not in str(e.get("input")) else what + " or speech"
        if e.get("language"):
            what += f" ({e['language']})"
    return f"listening for {what}, {e.get('timeout_s')} s time-out"


def _input(e: Mapping[str, Any]) -> str:
    if e.get("hangup") and not e.get("recording_s"):
        return "caller hung up"
    if e.get("recording_s"):
        said = f" saying {_words(e, 'speech')}" if _spoke(e, "speech") else ""
        end = (
            "hung up"
            if e.get("hangup")
            else (f"pressed {e['digits']}" if e.get("digits") else "went silent")
        )
        return f"recorded {e['recording_s']:.0f} s{said}, then {end}"
    if e.get("unheard"):
        return (f"(nothing recognised, {e.get('duration_s', 0):g} s): said {_words(e, 'said')}; "
                f"{e['unheard']}" + _noise(e) + _masked(e))
    if _spoke(e, "speech"):
        if _spoke(e, "said"):
            return f"said {_words(e, 'said')}, sent {_words(e, 'speech')}" + _noise(e) + \
                _confidence(e) + _masked(e)
        return f"said {_words(e, 'speech')}" + _noise(e) + _confidence(e) + _masked(e)
    if e.get("timeout") and not e.get("keys"):
        ignored = f" ({e['ignored']} ignored)" if e.get("ignored") else ""
        return f"(no input, {e.get('duration_s', 0):g} s){ignored}"
    dropped = f" ({e['dropped']} dropped)" if e.get("dropped") else ""
    early = " during the prompt" if e.get("barged_in") else ""
    return f"pressed {e.get('keys')}{early}{dropped}" + _masked(e)


def _spoke(e: Mapping[str, Any], name: str) -> bool:
    return bool(e.get(name)) or bool(e.get(f"{name}_chars"))


def _words(e: Mapping[str, Any], name: str) -> str:
    """The caller's words, or, in a trace read back from JSON, how many there were."""
    if e.get(name):
        return repr(e[name])
    return f"{counted(int(e.get(f'{name}_chars') or 0), 'character')} (words not kept)"


def _noise(e: Mapping[str, Any]) -> str:
    noise = e.get("noise")
    if not isinstance(noise, Mapping):
        return ""
    errors = [f"{counted(int(noise[k]), noun)} {k}"
              for k, noun in (("dropped", "word"), ("swapped", "pair")) if noise.get(k)]
    return (f" (noise {noise['rate']:g}, seed {noise['seed']}: "
            f"{', '.join(errors) or 'no word garbled'})")


def _confidence(e: Mapping[str, Any]) -> str:
    return f", confidence {e['confidence']:g}" if e.get("confidence") is not None else ""


def _masked(e: Mapping[str, Any]) -> str:
    return f"  ({_SECRETS.get(str(e['masked']), e['masked'])}, masked)" if e.get("masked") else ""


_SECRETS = {"pin": "PIN", "account": "account number"}


_HELD = {
    "queued": "still holding after",
    "bridged": "an agent answered after",
    "leave": "left after",
    "hangup": "hung up after",
    "error": "failed after",
    "system-error": "failed (Twilio) after",
}

_DETAIL: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "say": _say,
    "play": _play,
    "pause": lambda e: f"({e['duration_s']:g} s{' of silence on hold' if e.get('silence') else ''})",
    "gather": _gather,
    "input": _input,
    "redirect": lambda e: f"{e['method']} {e['url']}",
    "record": lambda e: (
        f"recording, up to {e['max_length_s']:g} s" + (" after a beep" if e.get("beep") else "")
    ),
    "enqueue": lambda e: (
        f"queue '{e['queue']}' is full: not queued"
        if e.get("result") == "queue-full"
        else f"queued in '{e['queue']}'"
        + (f" ({_HELD.get(e['result'], e['result'])} {e['hold_s']:g} s)" if e.get("hold_s") else "")
    ),
    "bridge": lambda e: f"talking with an agent of '{e['queue']}' ({e.get('duration_s', 0):g} s)",
    "warning": lambda e: f"Twilio warning {e.get('code') or '-'}: {e['message']}",
    "leave": lambda e: f"left queue '{e['queue']}'",
    "dial": lambda e: "dialling " + ", ".join(e.get("to") or []),
    "hangup": lambda e: f"rejected ({e['reject']})" if e.get("reject") else "the IVR hung up",
    "error": lambda e: f"Twilio error {e.get('code') or '-'}: {e['message']} at {e['url']}",
}
