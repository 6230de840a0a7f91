"""evo: the controller found by autotts's LLM-free evolve search, shipped as `--controller evo`.

It is a point of the structured space in autotts.controllers.space, stored as data (GENOME below) that
the space's interpreters play; it was selected on the search stores (aime24, four models) only, never
on held-out data.

How it works:

- Opens `n_init` branches, at most `max_branches` in all; its leader and confidence come from the
  final answers of finished branches.
- Each round live branches grow (in opening order): `burst_aligned` intervals if they agree with the
  leader, else `burst_other`, at most `active_cap` of them.
- From round `warm_up`, a live branch that disagrees with the leader `patience` rounds in a row is
  dropped, never leaving fewer than `keep_live` live.
- Widens by `widen_burst` new branches while the smoothed confidence is below `threshold`, its
  momentum at most `trend_threshold`.
- Stops once an exponential moving average (rate `alpha`) of the confidence reaches `threshold`,
  with `min_finished` finished answers, and has not fallen by more than `slack` over `T_ema` rounds.
- Otherwise answers with its leader.

Knobs (each a schedule of β, clipped to its range; integers rounded):

    knob             schedule               β=0      β=0.5    β=1      meaning
    n_init           1 + 9.8908·β           1        6        11       branches opened first
    max_branches     4.5244 + 59.4756·β     5        34       64       branches opened at most
    max_rounds       469.489 + 472.019·β    469      705      942      rounds at most
    burst_aligned    2.3616 + 3.2471·β      2        4        6        intervals per round for a branch agreeing with
                                                                       the leader
    burst_other      1                      1        1        1        intervals per round for any other live branch
    active_cap       53.4447·1.1975^β       53       58       64       live branches grown per round (the first in
                                                                       growth order)
    warm_up          0.8661 + 15.3898·β     1        9        16       rounds before deviation counting and the
                                                                       confidence gate
    patience         3 + 9·β                3        8        12       consecutive disagreeing rounds before a branch is
                                                                       dropped
    keep_live        2                      2        2        2        live branches never dropped below
    alpha            0.7 - 0.4804·β         0.7      0.4598   0.2196   EMA rate of the confidence
    T_ema            2.7805 + 3.3537·β^0.5  3        5        6        rounds over which the EMA momentum is measured
    threshold        0.85 + 0.12·β          0.85     0.91     0.97     confidence needed to stop
    slack            0.04 - 0.03·β          0.04     0.025    0.01     largest confidence drop (momentum) still allowed
                                                                       at a stop
    min_finished     2 + 3·β                2        4        5        finished answers needed to stop on confidence
    trend_threshold  -0.0436 + 0.0536·β     -0.0436  -0.0168  0.01     widen only while the confidence momentum is at
                                                                       most this
    widen_burst      1 + 3·β                1        2        4        branches opened per widening

Provenance:

    command: benchmarks/run_evo_search.py --minutes 14 --cpu-minutes 14 --finalists 3 --finalist-
        seeds 20 --seed 2 --betas 0,0.2,0.4,0.6,0.8,0.9,1 --init benchmarks/results/evo_phase2.json
        --prior-cpu-minutes 24.57
    config: {'population': 20, 'generations': 40, 'elite': 4, 'tournament': 3, 'crossover_rate':
        0.5, 'betas': [0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0], 'seeds': 8, 'stores':
        ['Qwen3-0.6B/aime24', 'Qwen3-1.7B/aime24', 'Qwen3-4B/aime24', 'Qwen3-8B/aime24'],
        'finalists': 3, 'finalist_seeds': 20, 'finalist_betas': [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6,
        0.7, 0.8, 0.9, 1.0], 'seed': 2, 'time_limit_s': 840.0, 'cpu_limit_s': 840.0}
    cpu_minutes: 42.44
    wall_minutes: 9.08
    evaluations: 103
    search_score: {'fitness': 87.1998, 'peak': 65.2083, 'saving': 0.8112, 'auc': 60.6826,
        'monotone_penalty': 0.0, 'complexity': 6.0, 'failures': 0, 'points': [[0.0, 15165.2,
        51.1667], [0.1, 30266.9, 55.75], [0.2, 61461.5, 58.8333], [0.3, 76471.5, 59.9583], [0.4,
        88439.4, 61.0], [0.5, 104097.2, 61.1667], [0.6, 124416.5, 61.5], [0.7, 142852.7, 62.9583],
        [0.8, 168410.0, 63.5417], [0.9, 423692.8, 65.1667], [1.0, 456688.2, 65.2083]]}
    note: The search ran in three phases, each continuing from the previous one's best genomes
        (--init), on a machine shared with other jobs for the first two (load 5-10 on 2 cores):
        phase 1 (seed 0, population 20, 5 generations from the published controllers, 8.0 CPU-
        minutes, 17 wall-minutes, stopped by hand because a wall-clock limit was too coarse under
        contention); phase 2 (seed 1, 8 generations, 16.6 CPU-minutes, 35 wall-minutes, finalist
        fitness 85.72); phase 3 above (seed 2, finer beta grid, 6 generations, 17.9 CPU-minutes, 9
        wall-minutes on the then idle machine). Phase 3's best replaced phase 2's because its
        finalist fitness on the search stores (same 20 seeds and 11-beta grid) was higher, a rule
        fixed before any held-out number of it was seen. cpu_minutes is the total of all three
        phases, evaluation workers included (about 21 minutes of the 2-core machine); no held-out
        store was ever loaded by the search.
"""

from __future__ import annotations

from .space import SpaceController

# the point of the structured space this controller is (read back by the search)
GENOME = {'drop': True,
 'final': 'leader',
 'gates': ['ema'],
 'knobs': {'T_ema': {'curve': 0.5, 'span': 3.3537, 'start': 2.7805},
           'active_cap': {'ratio': 1.1975, 'start': 53.4447},
           'alpha': {'span': -0.4804, 'start': 0.7},
           'burst_aligned': {'span': 3.2471, 'start': 2.3616},
           'burst_other': 1,
           'keep_live': 2,
           'length_horizon': 1,
           'max_branches': {'span': 59.4756, 'start': 4.5244},
           'max_rounds': {'span': 472.019, 'start': 469.489},
           'min_finished': {'span': 3, 'start': 2},
           'n_init': {'span': 9.8908, 'start': 1},
           'patience': {'span': 9, 'start': 3},
           'slack': {'span': -0.03, 'start': 0.04},
           'split_threshold': 0.0,
           'stable_T': {'span': 81.7479, 'start': 118.2521},
           'threshold': {'span': 0.12, 'start': 0.85},
           'trend_threshold': {'span': 0.0536, 'start': -0.0436},
           'warm_up': {'span': 15.3898, 'start': 0.8661},
           'widen_burst': {'span': 3, 'start': 1},
           'window': 64},
 'mode': 'probe',
 'order': 'opening',
 'refill': False,
 'signal': 'finished',
 'timing': 'before',
 'widen': 'stall'}


class EvolvedController(SpaceController):
    """GENOME, played by the space's interpreters: run() the scalar one, run_batch() the lockstep one."""

    GENOME = GENOME
