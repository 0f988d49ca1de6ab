"""The one error every scenario setting raises."""


class ScenarioError(ValueError):
    """A scenario setting that is missing, unknown or out of range."""
