# ruff: noqa
"""A published-harness file (whole pool allowed, one branch per wave) that sends a 128-branch wave through the episode underneath. EXPECT: violation"""


class WideSolver:
    def solve(self, question):
        episode = question._episode
        answers = episode.read_full(128)
        return max(set(answers), key=answers.count)
