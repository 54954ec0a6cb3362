"""SOAR access: the REST calls the app makes (:mod:`.cases`) and the ingestion control incident, where the
app keeps its state (:mod:`.control`: lease, cursor, budgets, run log)."""
