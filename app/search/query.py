"""The query language of the archive's search: words, quoted phrases, OR and exclusions,
parsed once and compiled to FTS5's MATCH syntax with every term quoted (PostgreSQL's tsquery
is built from the same parse in app/search/service.py), so no user input reaches either
backend's syntax raw."""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import Invalid

MAX_TERMS = 32

# PostgreSQL's english stop words (tsearch_data/english.stop). PostgreSQL leaves them out
# of every query; on SQLite they are left out of unquoted words too, so both backends answer
# alike and no query walks the index entries of "the" in every post. Quoted phrases keep them.
STOP_WORDS = frozenset(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his
    himself she her hers herself it its itself they them their theirs themselves what which
    who whom this that these those am is are was were be been being have has had having do
    does did doing a an the and but if or because as until while of at by for with about
    against between into through during before after above below to from up down in out on
    off over under again further then once here there when where why how all any both each
    few more most other some such no nor not only own same so than too very s t can will just
    don should now""".split()
)


@dataclass(frozen=True)
class Term:
    """A word, or a quoted phrase (several words in order)."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class ParsedQuery:
    """All groups must match (AND); a group matches when any of its terms does (OR)."""

    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...]


@dataclass(frozen=True)
class _Token:
    kind: str  # "term" | "or"
    term: Term | None = None
    negated: bool = False


def _searchable(word: str) -> bool:
    # The tokenizers split on punctuation: a "word" of only punctuation finds nothing.
    return any(ch.isalnum() for ch in word)


def _term(text: str) -> Term | None:
    words = tuple(w for w in text.split() if _searchable(w))
    return Term(words) if words else None


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        negated = False
        if ch == "-" and i + 1 < n and not text[i + 1].isspace():
            negated = True
            i += 1
            ch = text[i]
        if ch == '"':
            close = text.find('"', i + 1)
            if close < 0:
                raise Invalid('the query has a quoted phrase without its closing "')
            term = _term(text[i + 1 : close])
            i = close + 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] != '"':
                i += 1
            word = text[start:i]
            if word == "OR" and not negated:
                tokens.append(_Token("or"))
                continue
            term = _term(word)
        if term is not None:
            tokens.append(_Token("term", term, negated))
    return tokens


def parse_query(text: str) -> ParsedQuery:
    """Words (all must match), "phrases", `a OR b`, `-word`, `-"phrase"`; Invalid otherwise."""
    if not text.strip():
        raise Invalid("the search query is empty: give at least one word")
    tokens = _tokens(text)
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    pending_or = False
    for position, token in enumerate(tokens):
        if token.kind == "or":
            previous_is_term = position > 0 and tokens[position - 1].kind == "term"
            if not groups or not previous_is_term or tokens[position - 1].negated:
                raise Invalid("OR must stand between two search terms, as in: pool OR beach")
            pending_or = True
            continue
        assert token.term is not None
        if token.negated:
            if pending_or:
                raise Invalid("an excluded term (-word) cannot be one side of an OR")
            excluded.append(token.term)
        elif pending_or:
            groups[-1].append(token.term)
            pending_or = False
        else:
            groups.append([token.term])
    if pending_or:
        raise Invalid("OR must stand between two search terms, as in: pool OR beach")
    if not groups:
        raise Invalid(
            "the query has no words to search for (exclusions alone, or only punctuation)"
        )
    if sum(len(g) for g in groups) + len(excluded) > MAX_TERMS:
        raise Invalid(f"the query has more than {MAX_TERMS} terms")
    return ParsedQuery(tuple(tuple(g) for g in groups), tuple(excluded))


def _fts5_string(term: Term) -> str:
    # Inside an FTS5 string everything is literal except the quote, which is doubled.
    return '"' + " ".join(term.words).replace('"', '""') + '"'


def _is_stop_word(term: Term) -> bool:
    return len(term.words) == 1 and term.words[0].lower() in STOP_WORDS


def without_stop_words(parsed: ParsedQuery) -> ParsedQuery:
    """The query less its single stop words, unless nothing would be left to match."""
    groups = tuple(
        kept for g in parsed.groups if (kept := tuple(t for t in g if not _is_stop_word(t)))
    )
    if not groups:
        return parsed
    excluded = tuple(t for t in parsed.excluded if not _is_stop_word(t))
    return ParsedQuery(groups, excluded)


def fts5_expression(parsed: ParsedQuery, *, proximity: bool = True) -> str:
    """The FTS5 MATCH expression: every term a quoted string, structure added by us.
    Without `proximity` the expression matches the same rows but does not score closeness
    (for finding matches without ranking them)."""
    parts = []
    for group in parsed.groups:
        alternatives = [_fts5_string(t) for t in group]
        parts.append(
            alternatives[0] if len(alternatives) == 1 else f"({' OR '.join(alternatives)})"
        )
    expression = " AND ".join(parts)
    phrase = proximity_phrase(parsed) if proximity else None
    if phrase is not None:
        # bm25 knows nothing of proximity: the words as one phrase are added as an
        # alternative that changes no match (the phrase implies every word) but scores, so
        # "pool closure" together ranks above the two words apart.
        expression = f"({expression}) OR {phrase}"
    for term in parsed.excluded:
        expression = f"({expression}) NOT {_fts5_string(term)}"
    return expression


def proximity_phrase(parsed: ParsedQuery) -> str | None:
    """The FTS5 phrase of every word in order, that fts5_expression adds for proximity
    (when the query is two or more single words or phrases), else None."""
    if len(parsed.groups) > 1 and all(len(g) == 1 for g in parsed.groups):
        return _fts5_string(Term(tuple(w for g in parsed.groups for w in g[0].words)))
    return None
