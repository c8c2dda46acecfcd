"""nebula-hub: transparent LLM post-training on the Hugging Face Hub.

Curate an SFT corpus and an RL pool with datatrove, publish them as versioned Hub datasets with cards, train
Ins-SFT / GRPO / OPD / MOPD checkpoints with TRL, evaluate them and compare the branches in a Gradio Space.
Run `nebula-hub --help` for the commands.
"""

__version__ = "0.1.0"
