"""Book validation: the row-level problems a schema cannot see, each named with its first rows and a count.

:func:`book_problems` runs every check as one DuckDB query each and returns
readable lines; :func:`validate_book` raises one
:class:`~creditmesh.errors.SchemaError` listing them all. The checks:

* orphan installments: ``installments.loan_id`` not in ``loans``;
* duplicate installments: the same ``(loan_id, seq)`` twice;
* negative balances: more principal paid than due on an installment, or on a
  loan more principal paid than lent;
* dates out of order: an installment due or settled before its loan was
  originated, due dates that do not rise with ``seq``, a loan originated before
  its borrower registered (compared by UTC day, as the metrics are daily).

The metrics assume none of these; a report refuses a book that has any.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from creditmesh.errors import SchemaError
from creditmesh.schema import ROWS_QUOTED

if TYPE_CHECKING:
    from creditmesh.portfolio.book import Book

# (table, what is wrong, query returning (label, total count) rows ordered by label, at most ROWS_QUOTED).
_CHECKS = (
    (
        "installments",
        "orphan installments (loan_id not in loans)",
        """SELECT 'loan_id=' || i.loan_id || ' seq=' || i.seq AS label, COUNT(*) OVER () AS n
           FROM installments AS i ANTI JOIN loans AS l ON l.loan_id = i.loan_id""",
    ),
    (
        "installments",
        "duplicate installments (same loan_id and seq)",
        """SELECT 'loan_id=' || loan_id || ' seq=' || seq AS label, COUNT(*) OVER () AS n
           FROM installments GROUP BY loan_id, seq HAVING COUNT(*) > 1""",
    ),
    (
        "installments",
        "negative balances (principal paid above principal due)",
        """SELECT 'loan_id=' || loan_id || ' seq=' || seq || ' due=' || principal_due_minor
                  || ' paid=' || principal_paid_minor AS label, COUNT(*) OVER () AS n
           FROM installments WHERE principal_paid_minor > principal_due_minor""",
    ),
    (
        "loans",
        "negative balances (principal repaid above principal lent)",
        """SELECT 'loan_id=' || l.loan_id || ' lent=' || l.principal_minor || ' repaid=' || SUM(i.principal_paid_minor)
                  AS label, COUNT(*) OVER () AS n
           FROM loans AS l JOIN installments AS i ON i.loan_id = l.loan_id
           GROUP BY l.loan_id, l.principal_minor HAVING SUM(i.principal_paid_minor) > l.principal_minor""",
    ),
    (
        "installments",
        "dates out of order (due or settled before the loan was originated)",
        """SELECT 'loan_id=' || i.loan_id || ' seq=' || i.seq || ' originated=' || CAST(l.originated_at AS DATE)
                  || ' due=' || i.due_date || ' paid=' || COALESCE(CAST(i.paid_at AS VARCHAR), 'open') AS label,
                  COUNT(*) OVER () AS n
           FROM installments AS i JOIN loans AS l ON l.loan_id = i.loan_id
           WHERE i.due_date < CAST(l.originated_at AS DATE) OR i.paid_at < CAST(l.originated_at AS DATE)""",
    ),
    (
        "installments",
        "dates out of order (a due date not after the previous installment's)",
        """SELECT 'loan_id=' || loan_id || ' seq=' || seq || ' due=' || due_date || ' previous due=' || previous
                  AS label, COUNT(*) OVER () AS n
           FROM (SELECT loan_id, seq, due_date,
                        LAG(due_date) OVER (PARTITION BY loan_id ORDER BY seq) AS previous FROM installments)
           WHERE due_date <= previous""",
    ),
    (
        "loans",
        "dates out of order (originated on a day before the borrower registered)",
        """SELECT 'loan_id=' || l.loan_id || ' originated=' || CAST(l.originated_at AS DATE)
                  || ' registered=' || CAST(b.registered_at AS DATE) AS label, COUNT(*) OVER () AS n
           FROM loans AS l JOIN borrowers AS b ON b.borrower_id = l.borrower_id
           WHERE CAST(l.originated_at AS DATE) < CAST(b.registered_at AS DATE)""",
    ),
)


def book_problems(book: Book) -> list[str]:
    """Every problem of the book as ``table: what (count row(s)): first rows`` lines; empty when sound."""
    problems = []
    for table, what, query in _CHECKS:
        rows = book.sql(f"SELECT * FROM ({query}) ORDER BY label LIMIT {ROWS_QUOTED}")
        if len(rows):
            count = int(rows["n"].iloc[0])
            more = f" and {count - len(rows)} more" if count > len(rows) else ""
            problems.append(f"{table}: {what}, {count} row(s): {'; '.join(rows['label'])}{more}")
    return problems


def validate_book(book: Book) -> None:
    """Raise one :class:`SchemaError` (field ``book``) naming every problem found by :func:`book_problems`."""
    problems = book_problems(book)
    if problems:
        raise SchemaError("book", " | ".join(problems))
