# Pre-processing: the menu item runs on an "Email Recipient" or "Email Sender" artifact. One People API call
# (50 a day are allowed per report).
inputs.pp_tap_emails = artifact.value
inputs.pp_tap_people_report = "vap"
# 14, 30 or 90 days.
inputs.pp_tap_people_window = 30
inputs.pp_tap_profile = None
