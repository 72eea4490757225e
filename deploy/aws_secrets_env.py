#!/usr/bin/env python3
"""Start a process with secrets from AWS Secrets Manager in its environment.

    python deploy/aws_secrets_env.py --tag court-pipeline -- dagster-daemon run

court_pipeline reads every secret from an environment variable whose name the registry gives
(``*_env`` fields), and the production dagster.yaml reads the database password the same way
(``DAGSTER_PG_PASSWORD``). The instance needs that password before any code location loads, so
secrets are put into the environment of the webserver and daemon processes *before* they start;
run workers and code servers are their children and inherit them. Nothing is written to disk.

Which secrets: every secret carrying the tag key given by ``--tag`` (any value), plus any named
by ``--secret <name or ARN>``, found with dagster-aws' ``get_tagged_secrets`` /
``get_secrets_from_arns``. How a secret becomes variables:

* a JSON object (the console's "key/value" secret) sets one variable per key:
  ``{"DAGSTER_PG_PASSWORD": "..."}``;
* any other string sets the variable named by the last ``/`` segment of the secret's name:
  ``court-pipeline/HARRIS_ODYSSEY_PASSWORD``.

Names must be valid variable names (A-Z, 0-9, _); anything else stops with exit code 2 and a
message that names the secret, never its value. Values from Secrets Manager replace variables
already set (Secrets Manager is the source of truth). Only variable *names* are printed.
Region, credentials and endpoint come from the standard AWS chain (task/instance role,
AWS_REGION, AWS_ENDPOINT_URL_SECRETS_MANAGER for a VPC endpoint).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class SecretsError(RuntimeError):
    """A secret cannot become environment variables; the message names it, not its value."""


def variables_from_secret(secret_name: str, secret_string: str | None) -> dict[str, str]:
    """The environment variables one secret provides (see the module docstring)."""
    if secret_string is None:
        raise SecretsError(
            f"secret {secret_name!r} has no SecretString (binary secrets are not supported)"
        )
    parsed: object = None
    if secret_string.lstrip().startswith("{"):
        try:
            parsed = json.loads(secret_string)
        except ValueError:
            parsed = None
    if isinstance(parsed, dict):
        variables: dict[str, str] = {}
        for key, value in parsed.items():
            if not ENV_NAME.match(str(key)):
                raise SecretsError(
                    f"secret {secret_name!r}: key {key!r} is not an environment variable name"
                    " (A-Z, 0-9, _)"
                )
            if not isinstance(value, str):
                raise SecretsError(f"secret {secret_name!r}: value of key {key!r} is not a string")
            variables[str(key)] = value
        return variables
    name = secret_name.rsplit("/", 1)[-1]
    if not ENV_NAME.match(name):
        raise SecretsError(
            f"secret {secret_name!r}: {name!r} is not an environment variable name (A-Z, 0-9, _); "
            "rename the secret (e.g. court-pipeline/HARRIS_ODYSSEY_PASSWORD) or store a JSON "
            "object whose keys are the variable names"
        )
    return {name: secret_string}


def fetch_variables(
    tags: Sequence[str], secret_ids: Sequence[str], region_name: str | None = None
) -> dict[str, str]:
    """Read the selected secrets from AWS Secrets Manager and turn them into variables."""
    from dagster_aws.secretsmanager import get_secrets_from_arns, get_tagged_secrets
    from dagster_aws.secretsmanager.secrets import construct_secretsmanager_client

    client = construct_secretsmanager_client(max_attempts=5, region_name=region_name)
    selected: dict[str, str] = {}
    if tags:
        selected.update(get_tagged_secrets(client, list(tags)))
    if secret_ids:
        selected.update(get_secrets_from_arns(client, list(secret_ids)))
    variables: dict[str, str] = {}
    owner: dict[str, str] = {}
    for secret_name, arn in sorted(selected.items()):
        value = client.get_secret_value(SecretId=arn).get("SecretString")
        for key, secret in variables_from_secret(secret_name, value).items():
            if key in owner:
                raise SecretsError(
                    f"variable {key} is set by both {owner[key]!r} and {secret_name!r}"
                )
            owner[key] = secret_name
            variables[key] = secret
    return variables


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", action="append", default=[], help="load secrets with this tag")
    parser.add_argument("--secret", action="append", default=[], help="secret name or ARN to load")
    parser.add_argument("--region", default=None, help="AWS region (default: the AWS chain)")
    parser.add_argument("--check", action="store_true", help="list the variable names and exit")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- program and arguments")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not args.tag and not args.secret:
        parser.error("give --tag and/or --secret")
    if not command and not args.check:
        parser.error("give the command to run after --")
    try:
        variables = fetch_variables(args.tag, args.secret, args.region)
    except SecretsError as exc:
        print(f"aws_secrets_env: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # boto/botocore errors carry no secret values
        problem = f"{type(exc).__name__}: {exc}"
        print(f"aws_secrets_env: cannot read AWS Secrets Manager: {problem}", file=sys.stderr)
        return 3
    names = ", ".join(sorted(variables)) or "(none)"
    print(f"aws_secrets_env: loaded {len(variables)} variable(s): {names}", file=sys.stderr)
    if args.check:
        return 0
    sys.stderr.flush()
    # replace this process: signals from the supervisor reach dagster directly
    os.execvpe(command[0], command, {**environ, **variables})  # noqa: S606 - argv, no shell
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
