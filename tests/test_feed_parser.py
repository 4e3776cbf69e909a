"""Feed parsing: RSS 0.9x/1.0/2.0, Atom and JSON Feed to clean Articles."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from newsflow.errors import SourceError
from parsers.feed import parse_feed
from parsers.html import html_to_text
from parsers.urls import canonicalize_url

RSS20 = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Desk</title><link>https://News.Example.com/</link><language>en-gb</language>
<item>
  <title>Russia and China &amp; the &lt;b&gt;Arctic&lt;/b&gt;</title>
  <link>HTTPS://News.Example.com:443/world/arctic/index.html?utm_source=rss&amp;b=2&amp;a=1#top</link>
  <guid isPermaLink="false">desk-1</guid>
  <pubDate>Thu, 05 Feb 2026 10:30:00 +0200</pubDate>
  <dc:creator>Anna Petrova</dc:creator>
  <description>Short summary.</description>
  <content:encoded><![CDATA[<p>First paragraph about the <a href="/x">Northern Sea Route</a>.</p>
  <script>track()</script><p>Second paragraph.</p><figure><img src="a.jpg">
  <figcaption>A caption</figcaption></figure>]]></content:encoded>
</item>
<item><title>Relative link</title><link>/world/second</link><guid>desk-2</guid></item>
<item>
  <description>&lt;p&gt;Only a description, which becomes the title.&lt;/p&gt;</description>
</item>
<item><guid>desk-empty</guid></item>
</channel></rss>"""

RSS091 = b"""<?xml version="1.0"?><rss version="0.91"><channel><title>Old</title>
<link>http://old.example.org/</link><description>d</description><language>en-us</language>
<item><title>Old-school item</title><link>http://old.example.org/a.html</link>
<description>Plain text body.</description></item></channel></rss>"""

RSS10 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="http://rdf.example.org/"><title>RDF</title><link>http://rdf.example.org/</link>
<description>d</description></channel>
<item rdf:about="http://rdf.example.org/1"><title>RDF item</title>
<link>http://rdf.example.org/1</link><dc:date>2026-01-02T03:04:05Z</dc:date>
<dc:creator>J. Smith</dc:creator><description>Body.</description></item>
</rdf:RDF>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de">
<title>Atom desk</title><id>urn:x</id><updated>2026-01-01T00:00:00Z</updated>
<entry><title type="html">Gespräche in &lt;em&gt;Peking&lt;/em&gt;</title>
<link rel="alternate" href="https://atom.example.org/2026/01/talks"/>
<id>tag:atom.example.org,2026:1</id><updated>2026-01-03T12:00:00+01:00</updated>
<author><name>Eva Braun</name></author><author><name>Li Wei</name></author>
<summary>Kurz.</summary>
<content type="html">&lt;p&gt;Erster Absatz.&lt;/p&gt;&lt;p&gt;Zweiter Absatz.&lt;/p&gt;</content>
</entry></feed>""".encode()


def test_rss20_entries() -> None:
    feed = parse_feed(RSS20, source="desk", origin="https://news.example.com/rss")
    assert feed.kind == "rss20" and feed.title == "Desk" and feed.entries == 4
    first, second, third = (item.article for item in feed.items)
    assert first.title == "Russia and China & the Arctic"
    assert first.url == "https://news.example.com/world/arctic/?a=1&b=2"
    assert first.guid == "desk-1" and first.source == "desk"
    assert first.published == datetime(2026, 2, 5, 8, 30, tzinfo=UTC)
    assert first.authors == ("Anna Petrova",) and first.language == "en-gb"
    assert first.paragraphs == [
        "First paragraph about the Northern Sea Route.",
        "Second paragraph.",
    ]
    assert feed.items[0].link is not None and "utm_source" in feed.items[0].link
    assert second.url == "https://news.example.com/world/second"
    assert third.title == "Only a description, which becomes the title." and third.text == ""
    assert [p.origin for p in feed.problems] == ["https://news.example.com/rss#entry-4"]
    assert "no title and no text" in feed.problems[0].message


def test_rss091_and_rss10() -> None:
    old = parse_feed(RSS091, source="old", origin="o")
    assert old.kind == "rss091u" or old.kind.startswith("rss09")
    assert [(a.article.title, a.article.text) for a in old.items] == [
        ("Old-school item", "Plain text body.")
    ]
    rdf = parse_feed(RSS10, source="rdf", origin="r")
    assert rdf.kind == "rss10"
    article = rdf.items[0].article
    assert article.published == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert article.authors == ("J. Smith",) and article.url == "http://rdf.example.org/1"


def test_atom() -> None:
    feed = parse_feed(ATOM, source="atom", origin="a")
    assert feed.kind == "atom10"
    article = feed.items[0].article
    assert article.title == "Gespräche in Peking"
    assert article.paragraphs == ["Erster Absatz.", "Zweiter Absatz."]  # content over summary
    assert article.published == datetime(2026, 1, 3, 11, 0, tzinfo=UTC)
    assert article.authors == ("Eva Braun", "Li Wei") and article.language == "de"
    assert article.guid == "tag:atom.example.org,2026:1"


def test_json_feed() -> None:
    data = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON desk",
        "home_page_url": "https://json.example.org/",
        "authors": [{"name": "Desk Staff"}],
        "language": "en",
        "items": [
            {
                "id": "1",
                "url": "https://json.example.org/a?fbclid=xyz",
                "title": "A JSON item",
                "content_html": "<p>Body <b>one</b>.</p><p>Body two.</p>",
                "date_published": "2026-02-01T10:00:00-05:00",
            },
            {"id": "2", "url": "/b", "content_text": "Text only item"},
            {"id": "3", "authors": [{"name": "Ann"}], "title": "T", "summary": "S"},
            "not an object",
            {"id": "5"},
        ],
    }
    feed = parse_feed(json.dumps(data).encode(), source="j", origin="https://json.example.org/f")
    assert feed.kind == "json1" and feed.title == "JSON desk" and feed.entries == 5
    a, b, c = (item.article for item in feed.items)
    assert a.url == "https://json.example.org/a" and a.text == "Body one.\n\nBody two."
    assert a.published == datetime(2026, 2, 1, 15, 0, tzinfo=UTC)
    assert a.authors == ("Desk Staff",) and a.language == "en"
    assert b.title == "Text only item" and b.url == "https://json.example.org/b"
    assert c.authors == ("Ann",) and c.text == "S" and c.url is None
    assert len(feed.problems) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty response"),
        (b"<html><body><p>Not a feed</p></body></html>", "not an RSS, Atom or JSON feed"),
        (b'{"version": "1.0", "items": []}', "no jsonfeed.org version"),
        (b"{not json", "not a JSON feed"),
    ],
)
def test_not_a_feed(content: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_feed(content, source="x", origin="https://x.example/feed")


def test_charset_from_headers_and_declaration() -> None:
    body = (
        '<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>Café crème</title><link>http://e.example/1</link></item></channel></rss>"
    ).encode("latin-1")
    feed = parse_feed(body, source="s", origin="o", headers={"Content-Type": "application/xml"})
    assert feed.items[0].article.title == "Café crème"


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTP://Example.COM:80/a/?utm_campaign=x&id=3#frag", "http://example.com/a/?id=3"),
        ("https://example.com/news/index.html", "https://example.com/news/"),
        ("https://example.com/a?gclid=1&fbclid=2&mc_cid=3", "https://example.com/a"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
        ("mailto:desk@example.com", None),
        ("https://example.com/caf%c3%a9/%7Ea", "https://example.com/caf%C3%A9/~a"),
        # an escaped "%" stays escaped: "%250a" is the text "%0a", not a newline
        ("http://A.AI/%250a", "http://a.ai/%250a"),
        ("http://a.ai/100%25%20sure", "http://a.ai/100%25%20sure"),
    ],
)
def test_links_canonicalised(url: str, canonical: str | None) -> None:
    assert canonicalize_url(url) == canonical


def test_html_to_text_blocks_dropped_parts_and_nesting() -> None:
    assert html_to_text("<p>One <b>two</b></p><script>x()</script>after<br>line") == (
        "One two\n\nafter line"
    )
    assert html_to_text("<nav>Menu</nav><ul><li>a<li>b</ul><!-- note -->") == "a\n\nb"
    assert html_to_text("AT&T & Verizon &amp; co") == "AT&T & Verizon & co"
    # deeper than the HTML parser's own limit (256) but under MAX_DEPTH: parsed, nothing lost
    nested = "<div>" * 300 + "<p>deep text</p>" + "</div>" * 300
    assert html_to_text(nested) == "deep text"
    assert html_to_text("") == "" and html_to_text("<!-- only -->") == ""


MARKUP_RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>AT&amp;T deal</title><link>http://e.com/1</link>
<description>AT&amp;T rises &amp;amp; falls, a &lt; b</description></item>
<item><title>Scripts</title><link>http://e.com/2</link><description>&lt;p&gt;Fish &amp;amp;
chips&lt;/p&gt;&lt;script&gt;bad()&lt;/script&gt;&lt;p&gt;two&lt;/p&gt;</description></item>
<item><title>Unknown tags</title><link>http://e.com/3</link>
<description><![CDATA[<blink>safe</blink> <embed src="x"> <iframe src="y">no</iframe>here]]>
</description></item>
<item><link>http://e.com/4</link><description>&lt;sound&gt;&lt;/sound&gt;</description></item>
</channel></rss>"""

MARKUP_ATOM = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
<entry><title type="text">a &lt;b&gt; c</title><id>x1</id><link href="http://e.com/a"/>
<content type="text">Literal &lt;p&gt; in text &amp; more</content></entry>
<entry><title type="html">Bold &lt;b&gt;x&lt;/b&gt; &amp;amp; co</title><id>x2</id>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Para <script>no()</script>one
</p><p>&lt;blink&gt; as text</p></div></content></entry>
</feed>"""


def test_markup_follows_the_declared_type() -> None:
    """HTML and XHTML fields are reduced to their text (entities decoded, scripts and every
    tag dropped, with feedparser's sanitiser off); plain-text fields keep what they say."""
    rss = parse_feed(MARKUP_RSS, source="s", origin="http://e.com/feed")
    got = [(i.article.title, i.article.text) for i in rss.items]
    assert got == [
        ("AT&T deal", "AT&T rises & falls, a < b"),
        ("Scripts", "Fish & chips\n\ntwo"),
        ("Unknown tags", "safe here"),
    ]
    # an entry whose HTML has no text at all is not stored as its tags
    assert [str(p) for p in rss.problems] == [
        "http://e.com/feed#entry-4: entry has no title and no text"
    ]
    atom = parse_feed(MARKUP_ATOM, source="s", origin="http://e.com/feed")
    got = [(i.article.title, i.article.text) for i in atom.items]
    assert got == [
        ("a <b> c", "Literal <p> in text & more"),
        ("Bold x & co", "Para one\n\n<blink> as text"),
    ]
