"""A real S3-compatible server for tests: moto's, on 127.0.0.1, on a free port."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import httpx
from moto.server import ThreadedMotoServer

# Dummy credentials and region for the test session; moto accepts any unless auth is enforced.
TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Settings that would point boto3 somewhere else than the test server.
FOREIGN_ENV = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


@contextmanager
def moto_server() -> Iterator[str]:
    """Start moto's S3 server in a thread; yields its endpoint URL; stops it at the end."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str, **credentials: str) -> Any:
    return boto3.session.Session().client("s3", endpoint_url=endpoint, **credentials)


def new_bucket(endpoint: str) -> str:
    """Create an empty bucket with a fresh name and return the name."""
    name = f"strobe-test-{uuid.uuid4().hex[:16]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


def list_keys(endpoint: str, bucket: str) -> list[str]:
    listing = s3_client(endpoint).list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def iam_access_key(endpoint: str) -> tuple[str, str]:
    """A new IAM user allowed all of S3, and its (access key id, secret) on the server."""
    iam = boto3.session.Session().client("iam", endpoint_url=endpoint)
    user = f"strobe-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


@contextmanager
def enforced_auth(endpoint: str) -> Iterator[None]:
    """Make the server check every request's signature and permissions against its IAM
    (see iam_access_key); it accepts any credentials otherwise."""
    httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
    try:
        yield
    finally:
        httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"inf").raise_for_status()
