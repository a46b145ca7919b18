"""The leaders' dashboard, server-rendered by reporting: sign-in through the organisation's OpenID
Connect provider, then a unit's overview and trends, within the caller's scope, from the same use
cases (and so the same disclosure control) as the API. ``app.build_dashboard`` wires it;
``pages`` says how to add a page.
"""
