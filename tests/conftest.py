"""Tests run offline and quiet, whatever the caller's environment says."""

import os

# Nothing in the suite may reach a model hub, DVC's analytics or cloud metadata endpoints.
for name, value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DVC_NO_ANALYTICS": "1",
    "DVC_STUDIO_OFFLINE": "true",
    "AWS_EC2_METADATA_DISABLED": "true",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ[name] = value
