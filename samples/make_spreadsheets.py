#!/usr/bin/env python3
"""Write the spreadsheet forms of the sample fleet, from fleet.csv next to this script.

  fleet.xlsx            the fleet as Excel saves it: ids as number cells, a second sheet "Notes"
  fleet.ods             the same as LibreOffice saves it
  fleet-semicolon.csv   the fleet as spreadsheets in many European locales export CSV:
                        semicolons, CRLF line ends and a UTF-8 byte-order mark

Standard library only (zipfile and XML by hand), deterministic: fixed timestamps, sorted entries.
"""

import csv
import os
import zipfile
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
STAMP = (2026, 1, 1, 0, 0, 0)


def read_fleet():
    with open(os.path.join(HERE, "fleet.csv"), newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def is_plain_int(text):
    return text.isdigit() and not (len(text) > 1 and text.startswith("0")) and len(text) < 16


def col_name(i):
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name


def write_zip(path, entries):
    with zipfile.ZipFile(path, "w") as z:
        for name, data, compress in entries:
            info = zipfile.ZipInfo(name, STAMP)
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            z.writestr(info, data)


def xlsx_sheet(rows):
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
           '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>']
    for r, row in enumerate(rows, start=1):
        out.append(f'<row r="{r}">')
        for c, text in enumerate(row):
            ref = f"{col_name(c)}{r}"
            # Ids are number cells, as a spreadsheet keeps them; the header and serials are text.
            if r > 1 and c != 1 and is_plain_int(text):
                out.append(f'<c r="{ref}"><v>{text}</v></c>')
            elif text != "":
                out.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(text)}</t></is></c>')
        out.append("</row>")
    out.append("</sheetData></worksheet>")
    return "".join(out)


def write_xlsx(rows, path):
    ns_rel = "http://schemas.openxmlformats.org/package/2006/relationships"
    ns_doc = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
          '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
          '<Override PartName="/xl/worksheets/sheet2.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
          '</Types>')
    rels = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{ns_rel}">'
            f'<Relationship Id="rId1" Type="{ns_doc}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    workbook = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                f'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="{ns_doc}">'
                '<sheets><sheet name="Fleet" sheetId="1" r:id="rId1"/><sheet name="Notes" sheetId="2" r:id="rId2"/></sheets></workbook>')
    wb_rels = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{ns_rel}">'
               f'<Relationship Id="rId1" Type="{ns_doc}/worksheet" Target="worksheets/sheet1.xml"/>'
               f'<Relationship Id="rId2" Type="{ns_doc}/worksheet" Target="worksheets/sheet2.xml"/></Relationships>')
    notes = xlsx_sheet([["note"], ["Exported from the installer's planning sheet."]])
    write_zip(path, [
        ("[Content_Types].xml", ct, True),
        ("_rels/.rels", rels, True),
        ("xl/workbook.xml", workbook, True),
        ("xl/_rels/workbook.xml.rels", wb_rels, True),
        ("xl/worksheets/sheet1.xml", xlsx_sheet(rows), True),
        ("xl/worksheets/sheet2.xml", notes, True),
    ])


def ods_table(name, rows):
    out = [f'<table:table table:name="{escape(name)}">']
    for r, row in enumerate(rows, start=1):
        out.append("<table:table-row>")
        for c, text in enumerate(row):
            if r > 1 and c != 1 and is_plain_int(text):
                out.append(f'<table:table-cell office:value-type="float" office:value="{text}">'
                           f"<text:p>{text}</text:p></table:table-cell>")
            elif text != "":
                out.append(f'<table:table-cell office:value-type="string"><text:p>{escape(text)}</text:p></table:table-cell>')
            else:
                out.append("<table:table-cell/>")
        out.append("</table:table-row>")
    out.append("</table:table>")
    return "".join(out)


def write_ods(rows, path):
    content = ('<?xml version="1.0" encoding="UTF-8"?>'
               '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
               "<office:body><office:spreadsheet>"
               + ods_table("Fleet", rows)
               + ods_table("Notes", [["note"], ["Exported from the installer's planning sheet."]])
               + "</office:spreadsheet></office:body></office:document-content>")
    manifest = ('<?xml version="1.0" encoding="UTF-8"?>'
                '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                "</manifest:manifest>")
    write_zip(path, [
        ("mimetype", "application/vnd.oasis.opendocument.spreadsheet", False),
        ("META-INF/manifest.xml", manifest, True),
        ("content.xml", content, True),
    ])


def write_semicolon(rows, path):
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        csv.writer(f, delimiter=";", lineterminator="\r\n").writerows(rows)


def main():
    rows = read_fleet()
    write_xlsx(rows, os.path.join(HERE, "fleet.xlsx"))
    write_ods(rows, os.path.join(HERE, "fleet.ods"))
    write_semicolon(rows, os.path.join(HERE, "fleet-semicolon.csv"))
    print(f"wrote fleet.xlsx, fleet.ods, fleet-semicolon.csv ({len(rows) - 1} data rows each)")


if __name__ == "__main__":
    main()
