"""Approvals over time: durations, quiet hours, the reminder and escalation plan, intake rules.

Pure rules with the time passed in: nothing here sleeps, reads a clock or stores anything.
``durations`` imports nothing of the domain, so ``bot.core.models`` can use it.
"""
