"""``wellpulse-reporting rebuild``: replay ``org.units``, ``pulse.scored`` and ``pulse.alerts`` from
the start into a fresh read model beside the live one, then compare the two or swap the fresh one in.

``ends`` (where a replay stops) and ``differences`` (two read models, row for row) are pure;
``replay`` reads the topics, ``store`` holds the SQL, ``workflow`` runs the whole.
"""
