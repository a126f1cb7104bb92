"""Run the SAM transform (aws-sam-translator, offline) on a template; print the CloudFormation
JSON, or the transform's errors on stderr with exit code 1. cfn-lint does not run it."""
import json
import sys

import boto3
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names no AWS managed policy by name, so nothing needs looking up."""

    def load(self):
        return {}


def main(path):
    with open(path) as f:
        template = yaml_parse(f.read())
    # Pseudo parameters come from a boto session otherwise; pin them (no AWS account needed).
    # What `sam package` does first: local code directories become uploaded artifacts.
    for res in template.get("Resources", {}).values():
        props = res.get("Properties") or {}
        if res.get("Type") == "AWS::Serverless::Function" and not str(props.get("CodeUri", "")).startswith("s3://"):
            props["CodeUri"] = "s3://packaged-artifacts/image-triage.zip"
        if res.get("Type") == "AWS::Serverless::LayerVersion" and not str(props.get("ContentUri", "")).startswith("s3://"):
            props["ContentUri"] = "s3://packaged-artifacts/models-layer.zip"
    params = {"BucketName": "example-uploads", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
    try:
        # A region-only session: no credentials and no network are needed.
        session = boto3.session.Session(region_name="us-east-1")
        out = Translator(NoManagedPolicies(), Parser(), boto_session=session).translate(template, params)
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(cause.message, file=sys.stderr)
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
