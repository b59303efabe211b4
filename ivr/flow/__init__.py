"""The pure call flow: what the caller hears next, decided from what they did.

``caller.step(menu, state, event, services) -> Step`` walks one caller through the tree;
``agent`` does the same for an agent taking a caller. ``call`` holds the call's types
(state, event, step, utterance), ``services`` the outside world the flow needs as
protocols (wallet, lockout book, queue model), ``speech`` matches what a caller said to
the tree, ``spoken`` says numbers, dates and waits, ``prompts`` is the prompt catalog and
``gather`` what Twilio documents of ``<Gather>``.

Pure: no Flask, no Twilio library, no database, no audio. It imports only the menu's
model, the shared helpers at the top of ``ivr`` and itself; everything else imports it.
"""
