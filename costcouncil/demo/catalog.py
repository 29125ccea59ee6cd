"""The demo organisation, declared as data: teams, accounts, instance prices, LLM price lists.

Prices are public list prices as of 2025, hand-picked for a small table: EC2 figures are the
public AWS on-demand list prices (Linux, us-east-1/us-west-2) and 1-year reserved rates; SageMaker,
S3 and data-transfer figures are public AWS list prices (approximate); token prices are the
providers' public per-million-token list prices.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Owner:
    """Who a resource or a request belongs to: the owner keys the attribution engine recovers."""

    team: str
    project: str
    model: str | None
    environment: str


@dataclass(frozen=True)
class Instance:
    """An EC2 (or SageMaker) instance type with its accelerator and $/hour list prices."""

    name: str
    accelerator: str
    accelerator_count: int
    vcpu: int
    memory_gib: int
    on_demand: str
    reserved: str | None = None


@dataclass(frozen=True)
class Provider:
    """A billing provider: one FOCUS dataset, one billing account."""

    key: str
    name: str
    issuer: str
    publisher: str
    account_id: str
    account_name: str
    service: str
    account_type: str


@dataclass(frozen=True)
class LlmModel:
    """A priced model: token kinds (input, output, cached, cache-write) and $ per 1M tokens."""

    provider: str
    name: str
    prices: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class LlmApp:
    """One use of one model by one owner (the unit an API key or project stands for)."""

    model: str
    owner: Owner
    feature: str
    volume: float
    weekday_only: bool = True
    tier: str = "standard"
    #: Cached input tokens per uncached input token (agents that resend a long prefix cache more).
    cached: float = 0.35
    #: Output tokens per uncached input token (the usual ratio of :data:`TOKEN_RATIOS`).
    output: float = 0.22


PROVIDERS: dict[str, Provider] = {
    p.key: p
    for p in (
        Provider(
            "aws",
            "AWS",
            "Amazon Web Services, Inc.",
            "Amazon Web Services",
            "123456789012",
            "acme-ai-management",
            "",
            "Management Account",
        ),
        Provider(
            "openai",
            "OpenAI",
            "OpenAI",
            "OpenAI",
            "org-AcmeAi7Demo",
            "Acme AI",
            "OpenAI API",
            "Organization",
        ),
        Provider(
            "anthropic",
            "Anthropic",
            "Anthropic",
            "Anthropic",
            "acct-acme-ai",
            "Acme AI",
            "Claude API",
            "Organization",
        ),
        Provider(
            "azure",
            "Microsoft",
            "Microsoft",
            "Microsoft",
            "8a1f3c2e-acme-ai-billing",
            "Acme AI EA",
            "Azure OpenAI Service",
            "Billing Account",
        ),
    )
}

#: AWS member accounts: one per environment plus the platform account that runs the GPU cluster.
AWS_ACCOUNTS: dict[str, tuple[str, str]] = {
    "prod": ("210987654321", "acme-ml-prod"),
    "staging": ("210987654322", "acme-ml-staging"),
    "dev": ("210987654323", "acme-ml-dev"),
    "platform": ("210987654324", "acme-ml-platform"),
}

REGIONS: dict[str, str] = {
    "us-east-1": "US East (N. Virginia)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "Europe (Ireland)",
}

#: Public AWS on-demand list prices and 1-year reserved rates, $/hour (us-east-1 Linux).
INSTANCES: dict[str, Instance] = {
    i.name: i
    for i in (
        Instance("p5.48xlarge", "H100", 8, 192, 2048, "55.04"),
        Instance("p4d.24xlarge", "A100", 8, 96, 1152, "21.957642", "13.921094"),
        Instance("p4de.24xlarge", "A100", 8, 96, 1152, "27.44705", "17.401365"),
        Instance("trn1.32xlarge", "Trainium", 16, 128, 512, "21.5", "13.22895"),
        Instance("g5.48xlarge", "A10G", 8, 192, 768, "16.288", "10.26144"),
        Instance("g5.12xlarge", "A10G", 4, 48, 192, "5.672", "3.57336"),
        Instance("g5.xlarge", "A10G", 1, 4, 16, "1.006", "0.63378"),
        Instance("g6.12xlarge", "L4", 4, 48, 192, "4.6016", "2.99564"),
        Instance("g6.xlarge", "L4", 1, 4, 16, "0.8048", "0.52392"),
        Instance("g6e.xlarge", "L40S", 1, 4, 32, "1.861", "1.17243"),
        Instance("g4dn.xlarge", "T4", 1, 4, 16, "0.526", "0.331"),
        Instance("inf2.xlarge", "Inferentia2", 1, 4, 16, "0.7582", "0.47767"),
        # SageMaker real-time inference hosting (approximate public list prices).
        Instance("ml.g5.2xlarge", "A10G", 1, 8, 32, "1.515"),
        Instance("ml.g5.12xlarge", "A10G", 4, 48, 192, "7.09"),
        Instance("ml.p4d.24xlarge", "A100", 8, 96, 1152, "37.688"),
    )
}

#: Instance types by role; a role decides the jobs that run on an instance.
ROLE_TYPES: dict[str, tuple[str, ...]] = {
    "training": ("p5.48xlarge", "p4d.24xlarge", "p4de.24xlarge", "trn1.32xlarge", "g5.48xlarge"),
    "inference": ("g5.xlarge", "g5.12xlarge", "g6.xlarge", "g6.12xlarge", "inf2.xlarge"),
    "notebook": ("g4dn.xlarge", "g5.xlarge", "g6e.xlarge"),
    "node": ("p4d.24xlarge", "g5.12xlarge", "p5.48xlarge", "g6.12xlarge"),
    "endpoint": ("ml.g5.2xlarge", "ml.g5.12xlarge", "ml.p4d.24xlarge"),
}

S3_GB_MONTH = "0.023"
TRANSFER_GB = {"internet": "0.09", "inter-region": "0.02"}

TEAMS: tuple[Owner, ...] = (
    Owner("vision", "detector", "detector-v3", "prod"),
    Owner("vision", "ocr", "ocr-lite", "staging"),
    Owner("search", "semantic-search", "embeddings", "prod"),
    Owner("search", "semantic-search", "reranker", "dev"),
    Owner("ads-ranking", "ctr", "ranker", "prod"),
    Owner("ads-ranking", "ctr", "ranker", "staging"),
    Owner("assistant", "support-bot", "chat-assistant", "prod"),
    Owner("research", "foundation", "llm-7b", "dev"),
    Owner("research", "foundation", "llm-7b", "staging"),
)
PLATFORM = Owner("platform", "gpu-cluster", None, "prod")
USERS = ("alice", "bob", "chen", "dana", "emeka", "farah", "goran", "hiro")

LLM_MODELS: dict[str, LlmModel] = {
    m.name: m
    for m in (
        LlmModel("openai", "gpt-4o", (("input", "2.50"), ("cached", "1.25"), ("output", "10.00"))),
        LlmModel(
            "openai", "gpt-4o-mini", (("input", "0.15"), ("cached", "0.075"), ("output", "0.60"))
        ),
        LlmModel("openai", "text-embedding-3-small", (("input", "0.02"),)),
        LlmModel(
            "anthropic",
            "claude-sonnet-4",
            (
                ("input", "3.00"),
                ("cached", "0.30"),
                ("cache_write", "3.75"),
                ("output", "15.00"),
            ),
        ),
        LlmModel(
            "anthropic",
            "claude-3-5-haiku",
            (
                ("input", "0.80"),
                ("cached", "0.08"),
                ("cache_write", "1.00"),
                ("output", "4.00"),
            ),
        ),
        LlmModel(
            "azure", "azure/gpt-4o", (("input", "2.50"), ("cached", "1.25"), ("output", "10.00"))
        ),
        LlmModel("aws", "anthropic.claude-3-haiku", (("input", "0.25"), ("output", "1.25"))),
        LlmModel("aws", "meta.llama3-1-70b-instruct", (("input", "0.72"), ("output", "0.72"))),
        LlmModel("aws", "amazon.titan-embed-text-v2", (("input", "0.02"),)),
    )
}

#: Token kinds in a fixed order; the index is the kind code used in arrays.
TOKEN_KINDS = ("input", "output", "cached", "cache_write")
#: Tokens of each kind per input token of the day's volume.
TOKEN_RATIOS = (1.0, 0.22, 0.35, 0.04)

#: LLM uses, interleaved by provider so that the first four cover every provider.
LLM_APPS: tuple[LlmApp, ...] = (
    LlmApp(
        "gpt-4o", Owner("assistant", "support-bot", "chat-assistant", "prod"), "support-chat", 40e6
    ),
    LlmApp(
        "claude-sonnet-4",
        Owner("assistant", "support-bot", "chat-assistant", "prod"),
        "agent-tools",
        25e6,
        cached=2.5,
    ),
    LlmApp("azure/gpt-4o", Owner("vision", "detector", "detector-v3", "prod"), "caption-qa", 12e6),
    LlmApp(
        "anthropic.claude-3-haiku",
        Owner("vision", "ocr", "ocr-lite", "prod"),
        "image-tagging",
        30e6,
    ),
    LlmApp(
        "text-embedding-3-small",
        Owner("search", "semantic-search", "embeddings", "prod"),
        "doc-embedding",
        400e6,
        weekday_only=False,
        tier="batch",
    ),
    LlmApp("claude-3-5-haiku", Owner("ads-ranking", "ctr", "ranker", "prod"), "ad-copy", 35e6),
    LlmApp(
        "gpt-4o-mini",
        Owner("search", "semantic-search", "reranker", "prod"),
        "query-rewrite",
        120e6,
    ),
    LlmApp(
        "meta.llama3-1-70b-instruct",
        Owner("research", "foundation", "llm-7b", "dev"),
        "eval-judge",
        20e6,
        weekday_only=False,
    ),
    LlmApp(
        "claude-sonnet-4",
        Owner("research", "foundation", "llm-7b", "staging"),
        "synthetic-data",
        15e6,
    ),
    LlmApp("gpt-4o", Owner("ads-ranking", "ctr", "ranker", "staging"), "creative-review", 6e6),
    LlmApp(
        "amazon.titan-embed-text-v2",
        Owner("search", "semantic-search", "embeddings", "staging"),
        "catalog-embedding",
        150e6,
        weekday_only=False,
        tier="batch",
    ),
    LlmApp("gpt-4o-mini", Owner("vision", "ocr", "ocr-lite", "dev"), "form-extraction", 30e6),
)

#: A use launched during the year (a planned launch, annotated in the ground truth).
LAUNCH_APP = LlmApp(
    "gpt-4o-mini",
    Owner("search", "semantic-search", "reranker", "prod"),
    "answer-engine",
    1.2e9,
)
#: Azure OpenAI's price of the gpt-4o 2024-05-13 deployment version (the planted price change).
GPT4O_0513_PRICES = (("input", "5.00"), ("cached", "2.50"), ("output", "15.00"))
