"""Mailbox commands against the real server: LIST (extended, special-use, status), CREATE,
RENAME, DELETE, SUBSCRIBE, STATUS, NAMESPACE, ID."""

from transcript import Imap


def test_default_mailboxes_and_list_forms(localserve):
    c = Imap(localserve.ports["imap"])
    untagged, _ = c.ok('LIST "" "*"')
    assert untagged == [
        '* LIST (\\HasNoChildren \\Archive) "/" Archive',
        '* LIST (\\HasNoChildren \\Drafts) "/" Drafts',
        '* LIST (\\HasNoChildren) "/" INBOX',
        '* LIST (\\HasNoChildren \\Junk) "/" Junk',
        '* LIST (\\HasNoChildren \\Sent) "/" Sent',
        '* LIST (\\HasNoChildren \\Trash) "/" Trash',
    ]
    assert c.ok('LIST "" ""')[0] == ['* LIST (\\Noselect) "/" ""']
    untagged, _ = c.ok('LIST (SPECIAL-USE) "" "*"')
    assert len(untagged) == 5 and not any(" INBOX" in l for l in untagged)
    untagged, _ = c.ok('LIST "" "inbox" RETURN (STATUS (MESSAGES UIDNEXT))')
    assert untagged == ['* LIST (\\HasNoChildren) "/" INBOX', "* STATUS INBOX (MESSAGES 0 UIDNEXT 1)"]
    assert c.ok("NAMESPACE")[0] == ['* NAMESPACE (("" "/")) NIL NIL']
    assert c.ok('ID ("name" "test")')[0][0].startswith('* ID ("name" "moxide"')


def test_create_rename_delete_subscribe(localserve):
    c = Imap(localserve.ports["imap"])
    c.ok("CREATE lists/rust/announce")
    untagged, _ = c.ok('LIST "" "lists*"')
    assert untagged == [
        '* LIST (\\HasChildren) "/" lists',
        '* LIST (\\HasChildren) "/" lists/rust',
        '* LIST (\\HasNoChildren) "/" lists/rust/announce',
    ]
    assert c.ok('LIST "" "lists/%"')[0] == ['* LIST (\\HasChildren) "/" lists/rust']
    assert c.command("CREATE lists")[1].startswith("NO [ALREADYEXISTS]")
    assert c.command("CREATE Drafts2 (USE (\\Bogus))")[1].startswith("NO [USEATTR]")
    c.ok("CREATE Drafts2 (USE (\\Drafts))")
    assert c.ok('LIST "" Drafts2')[0] == ['* LIST (\\HasNoChildren \\Drafts) "/" Drafts2']
    c.ok("SUBSCRIBE lists/rust/announce")
    c.ok("SUBSCRIBE gone/away")
    assert c.ok('LSUB "" "*"')[0] == ['* LSUB (\\Noselect) "/" gone/away', '* LSUB (\\HasNoChildren) "/" lists/rust/announce']
    assert c.ok('LIST (SUBSCRIBED) "" "*"')[0] == [
        '* LIST (\\NonExistent \\Subscribed) "/" gone/away',
        '* LIST (\\HasNoChildren \\Subscribed) "/" lists/rust/announce',
    ]
    assert c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')[0] == [
        '* LIST (\\NonExistent) "/" gone ("CHILDINFO" ("SUBSCRIBED"))',
        '* LIST () "/" lists ("CHILDINFO" ("SUBSCRIBED"))',
    ]
    c.ok("RENAME lists feeds")
    assert c.ok('LIST "" "feeds*"')[0] == [
        '* LIST (\\HasChildren) "/" feeds',
        '* LIST (\\HasChildren) "/" feeds/rust',
        '* LIST (\\HasNoChildren) "/" feeds/rust/announce',
    ]
    assert c.ok('LSUB "" "feeds*"')[0] == ['* LSUB (\\HasNoChildren) "/" feeds/rust/announce']
    assert c.command("RENAME nothing other")[1].startswith("NO [NONEXISTENT]")
    assert c.command("RENAME feeds Drafts")[1].startswith("NO [ALREADYEXISTS]")
    assert c.command("DELETE feeds")[1].startswith("NO [HASCHILDREN]")
    assert c.command("DELETE INBOX")[1].startswith("NO [CANNOT]")
    c.ok("DELETE feeds/rust/announce")
    assert c.command("DELETE feeds/rust/announce")[1].startswith("NO [NONEXISTENT]")
    assert c.command("STATUS nowhere (MESSAGES)")[1].startswith("NO [NONEXISTENT]")
    assert c.command("SELECT nowhere")[1].startswith("NO [NONEXISTENT]")


def test_status_counts(localserve):
    c = Imap(localserve.ports["imap"])
    c.send_raw(b"a1 APPEND INBOX (\\Seen) {5+}\r\nhello\r\na2 APPEND INBOX {5+}\r\nworld\r\n")
    assert c.line().startswith("a1 OK [APPENDUID ")
    assert c.line().startswith("a2 OK [APPENDUID ")
    untagged, _ = c.ok("STATUS INBOX (MESSAGES UNSEEN DELETED SIZE UIDNEXT RECENT)")
    assert untagged == ["* STATUS INBOX (MESSAGES 2 UNSEEN 1 DELETED 0 SIZE 10 UIDNEXT 3 RECENT 0)"]


def test_mailbox_names_in_modified_utf7_until_utf8_is_enabled(localserve):
    old = Imap(localserve.ports["imap"])
    old.ok("CREATE &AOk-t&AOk-")
    assert old.ok('LIST "" "&AOk-*"')[0] == ['* LIST (\\HasNoChildren) "/" &AOk-t&AOk-']
    assert old.command("CREATE R&D")[1].startswith("BAD")
    new = Imap(localserve.ports["imap"])
    assert new.ok("ENABLE UTF8=ACCEPT")[0] == ["* ENABLED UTF8=ACCEPT"]
    untagged, _ = new.ok('LIST "" "été"')
    assert untagged == ['* LIST (\\HasNoChildren) "/" "été"']
    new.ok('CREATE "R&D"')
    assert old.ok('LIST "" "R*"')[0] == ['* LIST (\\HasNoChildren) "/" R&-D']
