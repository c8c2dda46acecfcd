"""Rewards: one value per completion in order, None where a reward does not apply, names kept; a real GRPO run."""

import functools

import pytest

from nebula_hub.errors import NebulaError
from nebula_hub.rewards import (
    bind_reward,
    code_reward,
    completion_text,
    format_reward,
    get_code_reward,
    get_math_accuracy_reward,
    get_reward_funcs,
    math_accuracy_reward,
    multi_task_reward,
)


def conv(text):
    return [{"role": "assistant", "content": text}]


def test_math_accuracy_reward_plain_and_conversational():
    completions = ["$\\boxed{4}$", conv("<think>2+2</think>The answer is 4"), "5", "<think>cut off", "$\\boxed{1}$"]
    answers = ["4", "4", "4", "4", "\\frac{"]
    assert math_accuracy_reward(completions, answer=answers) == [1.0, 1.0, 0.0, 0.0, None]
    assert get_math_accuracy_reward(unparsable_answer=None)(completions, answer=answers)[3] is None


def test_math_reward_uses_the_pool_for_large_batches():
    completions = [f"$\\boxed{{{i}}}$" for i in range(12)]
    assert math_accuracy_reward(completions, answer=[str(i if i % 2 else -1) for i in range(12)]) == [
        0.0 if i % 2 == 0 else 1.0 for i in range(12)]


def test_code_reward_partial_binary_and_unreadable():
    completions = ["```python\ndef f(x):\n    return x * 2\n```", conv("```python\ndef f(x):\n    return 2\n```"),
                   "no code here ```", "```python\nx = 1\n```"]
    tests = ["assert f(1) == 2\nassert f(2) == 4"] * 3 + [None]
    assert code_reward(completions, tests=tests) == [1.0, 0.5, 0.0, None]
    assert get_code_reward(partial=False)(completions[:2], tests=tests[:2]) == [1.0, 0.0]
    assert code_reward(["```python\nx = 1\n```"], tests=[42]) == [None]  # unreadable tests: skip, not 0


def test_format_reward():
    assert format_reward(["<think>a</think>b", conv("<think>a</think>b"), "<think></think>b", "b", "<think>a</think>"]) \
        == [1.0, 1.0, 0.0, 0.0, 0.0]


def test_multi_task_dispatch():
    completions = ["$\\boxed{3}$", "```python\nx = 1\n```", "hello", "$\\boxed{2}$"]
    out = multi_task_reward(completions, task=["math", "code", "chat", "math"], answer=["3", None, None, "5"],
                            tests=[None, "assert x == 1", None, None])
    assert out == [1.0, 1.0, None, 0.0]


def test_ifeval_reward_dispatch_and_think_stripping():
    pytest.importorskip("nebula_hub.verify.ifeval")
    out = multi_task_reward(["<think>PLAN</think>all lower", "<think>unfinished"], task=["if", "if"],
                            constraints=[[{"id": "change_case:english_lowercase", "kwargs": {}}]] * 2)
    assert out == [1.0, 0.0]


def test_registry_names_options_dotted_and_errors():
    fs = get_reward_funcs(["math_accuracy", {"name": "code", "partial": False}, "format",
                           "nebula_hub.rewards:format_reward", "nebula_hub.rewards.format_reward"])
    assert [f.__name__ for f in fs] == ["math_accuracy_reward", "code_reward", "format_reward", "format_reward",
                                        "format_reward"]
    with pytest.raises(NebulaError) as e:
        get_reward_funcs(["accuracy"])
    assert "unknown reward 'accuracy'" in e.value.message and "math_accuracy" in e.value.hint
    with pytest.raises(NebulaError, match="could not be imported"):
        get_reward_funcs(["nebula_hub.rewards:nope"])
    with pytest.raises(NebulaError, match="bad options"):
        get_reward_funcs([{"name": "code", "bogus": 1}])
    bound = bind_reward(format_reward, unused=1)
    assert isinstance(bound, functools.partial) and bound.__name__ == "format_reward"


def test_missing_column_is_a_clear_error():
    with pytest.raises(NebulaError) as e:
        math_accuracy_reward(["1"])
    assert "no 'answer' column" in e.value.message and "reward_funcs" in e.value.hint


def test_completion_text_shapes():
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "a"}, {"text": "b"}]}]) == "ab"
    assert completion_text(None) == ""


@pytest.mark.slow
def test_rewards_inside_grpo_trainer(tiny_model_path, tmp_path):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    tok = AutoTokenizer.from_pretrained(tiny_model_path)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    ds = Dataset.from_list([
        {"prompt": [{"role": "user", "content": "What is 2+2?"}], "task": "math", "answer": "4", "tests": None},
        {"prompt": [{"role": "user", "content": "Set x to 1."}], "task": "code", "answer": None,
         "tests": "assert x == 1"},
    ] * 4)
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=4,
                      max_completion_length=8, max_steps=2, logging_steps=1, learning_rate=1e-2, use_cpu=True,
                      bf16=False, gradient_checkpointing=False, report_to=[], save_strategy="no", seed=0)
    multi, fmt, acc = get_reward_funcs(["multi_task", "format", "math_accuracy"])
    calls = []

    def spy(completions, **kwargs):  # records what TRL passed and what the reward returned
        out = multi(completions, **kwargs)
        calls.append((len(completions), list(kwargs["task"]), out))
        return out

    rewards = [functools.update_wrapper(spy, multi), fmt, acc]
    trainer = GRPOTrainer(model=model, reward_funcs=rewards, args=args, train_dataset=ds, processing_class=tok)
    trainer.train()
    logs = [h for h in trainer.state.log_history if "reward" in h]
    assert len(logs) == 2
    for name in ("multi_task_reward", "format_reward", "math_accuracy_reward"):
        assert all(f"rewards/{name}/mean" in h for h in logs), (name, logs[0].keys())
    assert len(calls) == 2 and all(n == 4 for n, _, _ in calls)
    for _, _tasks, out in calls:  # one value per completion; math and code rows scored (random text scores 0.0)
        assert len(out) == 4 and all(v == 0.0 for v in out), out
