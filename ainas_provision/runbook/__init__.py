"""The runbook: a plan carried out by a person at AINAS, screen by screen.

AINAS has no API, and an office may want a person to type the setup in, at least the first
time. The runbook presents the plan's steps in the order AINAS needs them, each as its screens in
the start guide's words (menu path, each field's label and the exact value to enter, the guide's
warnings), on a local page (:mod:`.server`) or as a printable checklist (:mod:`.export`). What the
person confirms is written to the state at once (:mod:`.session`), so that the next plan — for
the ``runbook:`` target (:mod:`.target`) or any other — knows what was done.

- :mod:`.steps`: a plan's changes -> steps with screens, fields and what AINAS assigns;
- :mod:`.session`: a runbook in progress: its plan, its serial, confirmations and failures;
- :mod:`.server`: the local page (127.0.0.1, a free port, a token in the URL);
- :mod:`.strings`: every text of the page and the checklist, in Japanese and English;
- :mod:`.export`: the checklist in markdown or HTML.
"""
