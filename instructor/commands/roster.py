"""The class roster: who is enrolled, kept in the gradebook, from the LMS or the hub's Unix group.

    ./course roster                   the roster: id, name, email, LMS id, and how many
    ./course roster import FILE       add or update the students of an LMS's roster CSV
    ./course roster group [GROUP]     add the members of a Unix group (default: the hub's
                                      students_group in hub/settings.toml)

nbgrader's students table is the roster (id, first and last name, email, LMS user id), and the LMS
export (instructor/commands/lms.py) writes one row per student in it, so an enrolled student who never
submitted gets a row too. nbgrader also adds a student there when it grades a submission of
someone it does not know (a dropped student, a typo in a zip's file name); the ids that came in
through this module are kept in Layout.roster, so the export can name those students.

FILE is recognised by its header:
canvas  Canvas's gradebook export: Student ("Last, First"), ID, SIS User ID, SIS Login ID, Section,
        ...; the student id is the SIS Login ID, the LMS user id Canvas's ID. Rows without an ID
        (Points Possible, a posting policy) and the Test Student are skipped.
moodle  Moodle's user or grade export with the username field: Username, First name, Last name,
        Email address, ...
plain   a header id and optionally first_name, last_name, email, lms_user_id (the columns of
        nbgrader db student import).
Comma, semicolon or tab separated. Student ids must be names the hub can give a Unix account
([a-z_][a-z0-9_-]{0,31}); a file with one that is not, or with an id twice, is refused as a whole.
"""
import csv
import grp
import pwd
from pathlib import Path

from ..model.gradebook import class_list
from .hub import SETTINGS, UNIX_NAME, read_settings

FIELDS = ("first_name", "last_name", "email", "lms_user_id")
TEST_STUDENT = {"Test Student", "Student, Test"}    # Canvas's student view account


class RosterError(ValueError):
    """A roster that cannot be imported, in one line."""


def canvas(row):
    name = row["Student"]
    if not row["ID"] or name in TEST_STUDENT:          # Points Possible and posting-policy rows have no ID
        return None
    last, comma, first = name.partition(",")
    names = {"first_name": first.strip(), "last_name": last.strip()} if comma else {"first_name": name}
    return row["SIS Login ID"], {**names, "lms_user_id": row["ID"]}


def moodle(row):
    return row["Username"], {"first_name": row.get("First name"), "last_name": row.get("Last name"),
                             "email": row.get("Email address")}


def plain(row):
    return row["id"], {field: row.get(field) for field in FIELDS}


# (what the file is, columns any of which tells it, the columns it must have (the student id's first), its
# reader), in the order tried.
FORMATS = [("Canvas's gradebook export", {"Student", "SIS Login ID"}, ("SIS Login ID", "Student", "ID"), canvas),
           ("Moodle's export", {"Username", "First name", "Email address"}, ("Username",), moodle),
           ("a plain roster CSV", {"id"}, ("id",), plain)]


def dialect(header_line):
    """The CSV dialect of a roster file, from its header (LMSs and spreadsheets also write ; and tabs)."""
    try:
        return csv.Sniffer().sniff(header_line, delimiters=",;\t")
    except csv.Error:                                    # one column: nothing to tell
        return csv.excel


def read(path):
    """(what the file is, [(student id, {field: value given})]) of a roster CSV, or RosterError."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:     # a spreadsheet's byte-order mark
            kind = dialect(f.readline())
            f.seek(0)
            reader = csv.DictReader(f, dialect=kind)
            header = [name.strip() for name in reader.fieldnames or []]
            reader.fieldnames = header
            what, id_column, reader_of = detect(path, header)
            return what, entries(path, reader, reader_of, id_column)
    except OSError as e:
        raise RosterError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise RosterError(f"{path.name} is not UTF-8 text: export it again as CSV in UTF-8") from None
    except csv.Error as e:
        raise RosterError(f"{path.name} is not a CSV file the csv module can read: {e}") from None


def detect(path, header):
    for what, tells, needs, reader_of in FORMATS:
        if tells & set(header):
            missing = [column for column in needs if column not in header]
            if missing:
                raise RosterError(f"{path.name} looks like {what} but has no column {', '.join(missing)}")
            return what, needs[0], reader_of
    raise RosterError(f"{path.name} is not a roster: no column SIS Login ID (Canvas), Username (Moodle) or id")


def entries(path, reader, reader_of, id_column):
    """[(student id, fields)] of the file's student rows; an empty cell gives nothing (the gradebook keeps
    what it has: Canvas's file has no emails, Moodle's no LMS user ids)."""
    found, lines = [], {}
    for row in reader:
        entry = reader_of({key: (value or "").strip() for key, value in row.items() if key})
        if entry is None:
            continue
        sid, fields = entry
        name = " ".join(fields[key] for key in ("first_name", "last_name") if fields.get(key))
        where = f"{path.name} line {reader.line_num}" + (f" ({name})" if name else "")
        if not sid:
            raise RosterError(f"{where}: no student id ({id_column})")
        if not UNIX_NAME.fullmatch(sid):
            raise RosterError(f"{where}: student id {sid!r} ({id_column}) is not an account name the hub can have "
                              "(lower-case letters, digits, _ or -, starting with a letter or _, at most 32)")
        if sid in lines:
            raise RosterError(f"{where}: student id {sid!r} is on line {lines[sid]} too")
        lines[sid] = reader.line_num
        found.append((sid, {key: value for key, value in fields.items() if value}))
    return found


def group_members(group):
    """The Unix accounts in group: its listed members and those whose primary group it is (useradd -g)."""
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        raise RosterError(f"no Unix group {group!r}") from None
    members = sorted(set(entry.gr_mem) | {user.pw_name for user in pwd.getpwall() if user.pw_gid == entry.gr_gid})
    for name in members:
        if not UNIX_NAME.fullmatch(name):
            raise RosterError(f"the account {name!r} of group {group!r} is not a name the hub can take as a student id")
    return [(name, {}) for name in members]


def students_group(course):
    """The hub's students' Unix group (hub/settings.toml students_group)."""
    try:
        return read_settings(course)["students_group"]
    except (OSError, KeyError, ValueError):      # ValueError: tomllib's TOMLDecodeError
        raise RosterError(f"no students_group in {SETTINGS}: name the group, ./course roster group GROUP") from None


def merge(layout, students):
    """Add or update each (student id, fields) in the gradebook; returns {added, updated, unchanged: count}."""
    from nbgrader.api import Gradebook, MissingEntry
    counts = dict.fromkeys(("added", "updated", "unchanged"), 0)
    with Gradebook(layout.db_url) as gb:
        for sid, fields in students:
            try:
                student = gb.find_student(sid)
            except MissingEntry:
                gb.add_student(sid, **fields)
                counts["added"] += 1
                continue
            changed = {key: value for key, value in fields.items() if getattr(student, key) != value}
            if changed:
                gb.update_or_create_student(sid, **changed)
            counts["updated" if changed else "unchanged"] += 1
    remember(layout, [sid for sid, _ in students])
    return counts


def remember(layout, ids):
    """Note ids as imported (Layout.roster: one id a line), besides those already noted."""
    layout.roster.parent.mkdir(parents=True, exist_ok=True)
    layout.roster.write_text("".join(f"{sid}\n" for sid in sorted(set(ids) | (imported(layout) or set()))))


def imported(layout):
    """The ids ever imported into the roster, or None if nothing was."""
    return set(layout.roster.read_text().split()) if layout.roster.exists() else None


def not_imported(layout):
    """A note on the gradebook's students that did not come from a roster import, or None when all did."""
    ids, students = imported(layout), [student[0] for student in class_list(layout)[0]]
    if ids is None:
        return "no roster imported (./course roster import FILE): only students the gradebook knows are in it"
    extra = [sid for sid in students if sid not in ids]
    if not extra:
        return None
    are = "is" if len(extra) == 1 else "are"
    return f"{students_count(len(extra))} {are} not on the imported roster: {', '.join(extra)}"


def students_count(n):
    return f"{n} student{'' if n == 1 else 's'}"


def listing(layout):
    """The roster as lines: a table of id, name, email and LMS id, then how many."""
    rows = [("id", "name", "email", "LMS id")] + [(sid, f"{first} {last}".strip(), email, lms_id)
                                                  for sid, first, last, email, lms_id in class_list(layout)[0]]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join([*(cell.ljust(w) for cell, w in zip(row, widths)), row[3]]).rstrip() for row in rows]
    note = not_imported(layout)
    return lines + [students_count(len(rows) - 1) + (f"; {note}" if note else "")]


def run(layout, action, args):
    """Do action; returns the lines to print."""
    if action == "list":
        return listing(layout)
    if action == "import":
        what, students = read(Path(args[0]))
        source = f"{Path(args[0]).name} ({what}, {students_count(len(students))})"
    else:
        group = args[0] if args else students_group(layout.root)
        students = group_members(group)
        source = f"Unix group {group}" + ("" if args else f" ({SETTINGS} students_group)")
    counts = merge(layout, students)
    return [f"{source}: " + ", ".join(f"{n} {how}" for how, n in counts.items())]
