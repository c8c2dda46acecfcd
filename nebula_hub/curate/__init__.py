"""Curation: datatrove pipelines that turn sources into curated SFT corpora (`sft`) and RL candidate pools (`rl`).

One step per module, shared by both pipelines (documents carry records in the layout of `document`):
`ingest` (+ `formats`), `normalize`, `decont`, `classify`, `dedup`, `distill`, `crossverify` (+ `checks`), `grade`,
`sample`, `writer`, `rejected`, `finalize`; `pipeline` builds executors; `sft` assembles the SFT pipeline from
`pipelines/sft_corpus.yaml` (`sft_config`); `samples` generates the bundled sample sources.

    nebula-hub curate sft --config pipelines/sft_corpus.yaml --output outputs/sft
"""
