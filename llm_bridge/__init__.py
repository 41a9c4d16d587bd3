"""LLM bridge: abstract persuasion signals become hints for real receiver LLMs.

Modules: :mod:`models` (offline model loading), :mod:`generation` (batched decoding with a
disk cache), :mod:`receivers` (local and OpenAI-compatible receivers), :mod:`tasks`
(math and code tasks with graders), :mod:`sandbox` (running model-written code),
:mod:`states` (state abstraction), :mod:`advisor` (signal → hint), :mod:`abstract_game`
(the persuasion game estimated from calibration runs), :mod:`evaluate` (the three-condition
protocol of Bai et al. 2024), :mod:`stats`.
"""
