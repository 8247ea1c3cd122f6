"""Small pieces shared by the command-line modules and the reports."""

from __future__ import annotations

import functools
import os
import re
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from xunfang.config import missing_data_hint
from xunfang.errors import DataFileError, ValidationError
from xunfang.ingest.messages import expected_text, rejection_summary_text
from xunfang.ingest.readers import BAD_BYTES_HINT
from xunfang.outputs import OUTPUT_MARKERS, OutputLock, other_commands_output, write_text_atomic

OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"
"""Attribution every map and report drawn from OpenStreetMap data carries."""

err_console = Console(stderr=True)

LANGS = ("en", "zh")
"""The languages of the command line's output and reports."""

LangOpt = Annotated[
    str, typer.Option("--lang", help="Language of the output and report: en or zh.")
]


def check_lang_option(lang: str) -> str:
    """``lang`` when it is one of :data:`LANGS`; else print the error and exit (code 2)."""
    if lang not in LANGS:
        raise fail(ValueError(f"--lang must be one of {LANGS}, got {lang!r}"))
    return lang


_ERRORS_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), zh)
    for pattern, zh in (
        # xunfang serve and xunfang user add (a tester's zh service printed these in English)
        (
            r"database (.+) is in use by another xunfang serve \(pid (.+), lock (.+)\): SQLite "
            r"is served by one process; stop that one first, or use PostgreSQL "
            r"\(XUNFANG_DATABASE_URL\) for several",
            "数据库 {0} 正被另一个 xunfang serve 使用（pid {1}，锁文件 {2}）：SQLite 只能由一个"
            "进程提供服务；请先停止那个进程，或改用 PostgreSQL（XUNFANG_DATABASE_URL）运行多个",
        ),
        (
            r"--workers > 1 needs PostgreSQL: SQLite serialises writers on one file lock, so the "
            r"service runs one process on it",
            "--workers > 1 需要 PostgreSQL：SQLite 的写入在一个文件锁上排队，服务只能在其上运行"
            "一个进程",
        ),
        (
            r"user name (.+): use 1 to 64 of A-Z a-z 0-9 _ \. - @ \(the rule of POST "
            r"/api/users\)",
            "用户名 {0}：请用 1 至 64 个 A-Z a-z 0-9 _ . - @ 字符（与 POST /api/users 的规则相同）",
        ),
        (r"--role must be one of ([a-z, ]+), got (.+)", "--role 应为 {0} 之一，实为 {1}"),
        (r"user (.+) already exists", "用户 {0} 已存在"),
        (
            r"user (.+) differs from the existing user (.+) only in case: choose another name "
            r"\(the audit log could not tell them apart\)",
            "用户 {0} 与已有用户 {1} 只差大小写：请换一个名称（审计日志无法区分二者）",
        ),
        (
            r"--unit: no unit (.+) \(the units are made when `xunfang serve` first starts, or "
            r"by an admin: GET /api/units lists them\)",
            "--unit：没有警力单元 {0}（警力单元在 `xunfang serve` 首次启动时建立，或由管理员"
            "添加：GET /api/units 列出全部）",
        ),
        (r"password must have at least (\d+) characters", "密码至少需要 {0} 个字符"),
        # too few / no incidents
        (
            r"only (\d+) incidents inside (.+) \(of the chosen types\): too few to site booths "
            r"on \(at least (\d+)\); widen --types or the period, or plan on road length "
            r"\(--demand road_length\)",
            "{1} 内只有 {0} 起警情（所选类别）：太少，无法布设岗亭（至少需要 {2} 起）；"
            "请放宽 --types 或时间范围，或按道路长度规划（--demand road_length）",
        ),
        (
            r"no incidents inside (.+): check the area and the files \(a district without "
            r"history: --demand road_length or --demand-points FILE\)",
            "{0} 内没有警情：请检查区域和文件（没有历史警情的辖区：用 --demand road_length "
            "或 --demand-points FILE）",
        ),
        (r"no incidents inside (.+): check the files", "{0} 内没有警情：请检查文件"),
        # files
        (r"file not found", "文件不存在"),
        (
            r"site files hold points; this feature is a (\w+)",
            "点位文件应为点；该要素是 {0}",
        ),
        (
            r"site (.+) at lon (\S+), lat (\S+) is more than (\d+) m from the road network of "
            r"(.+) \((\d+) site\(s\) like this\): outside the area, or longitude and latitude "
            r"swapped\?",
            "点位 {0}（经度 {1}，纬度 {2}）距 {4} 的路网超过 {3} 米（共 {5} 个这样的点位）："
            "在区域之外，还是经纬度写反了？",
        ),
        (
            r"weight (.+) is not a number >= 0",
            "权重 {0} 不是大于或等于 0 的数",
        ),
        (r"roster file not found", "排班文件不存在"),
        (r"calendar file not found", "日程规则文件不存在"),
        (r"scenario file not found", "场景文件不存在"),
        (r"site file not found", "点位文件不存在"),
        (r"input files not found: (.+)", "输入文件不存在：{0}"),
        # encodings
        *(
            (
                r"is not UTF-8 and "
                + why
                + r": the bytes do not decide its encoding"
                + guess
                + r"\. Pass it with --encoding \(e\.g\. --encoding gb18030 for a Chinese "
                r"export, --encoding cp1252 for a Western European one\) or the mapping's "
                r"encoding key",
                "不是 UTF-8 编码，且" + why_zh + "：无法从字节判断其编码" + guess_zh + "。请用 "
                "--encoding 指定（如中文导出文件用 --encoding gb18030，西欧文字用 --encoding "
                "cp1252）或在映射文件中写 encoding",
            )
            for why, why_zh in (
                (r"its bytes are not GB18030 either", "其字节也不是 GB18030"),
                (
                    r"line (\d+) is neither UTF-8 nor GB18030",
                    "第 {0} 行既不是 UTF-8 也不是 GB18030",
                ),
                (
                    r"read as GB18030 only (\d+) of its (\d+) non-ASCII characters are Chinese",
                    "按 GB18030 读取时，{1} 个非 ASCII 字符中只有 {0} 个是中文",
                ),
            )
            for guess, guess_zh in (
                (
                    r" \(a guess from its bytes: (\S+)\)",
                    f"（由字节猜测：{{{re.compile(why).groups}}}）",
                ),
                ("", ""),
            )
        ),
        *(
            (
                r"site file is not UTF-8 and "
                + why
                + r": a site file is read as UTF-8, UTF-16 or GB18030/GBK \(told from its "
                r"bytes\); save it as UTF-8",
                "点位文件不是 UTF-8 编码，且"
                + why_zh
                + "：点位文件按 UTF-8、UTF-16 或 GB18030/GBK 读取（由字节判断）；请另存为 UTF-8",
            )
            for why, why_zh in (
                (r"its bytes are not GB18030 either", "其字节也不是 GB18030"),
                (
                    r"line (\d+) is neither UTF-8 nor GB18030",
                    "第 {0} 行既不是 UTF-8 也不是 GB18030",
                ),
                (
                    r"read as GB18030 only (\d+) of its (\d+) non-ASCII characters are Chinese",
                    "按 GB18030 读取时，{1} 个非 ASCII 字符中只有 {0} 个是中文",
                ),
            )
        ),
        (
            r"site file is not valid (\S+) \(byte (\d+) of a line\): save it as UTF-8 or "
            r"GB18030/GBK",
            "点位文件不是有效的 {0} 编码（某行第 {1} 个字节）：请另存为 UTF-8 或 GB18030/GBK",
        ),
        (
            r"unknown encoding (.+) \(--encoding or the mapping's encoding key\)",
            "未知编码 {0}（--encoding 或映射文件的 encoding）",
        ),
        (
            r"is not UTF-16 \(no byte-order mark, and its zero bytes do not say which byte "
            r"order\): check --encoding",
            "不是 UTF-16 编码（没有字节顺序标记，零字节也看不出字节序）：请检查 --encoding",
        ),
        (
            r"line (\d+) is valid neither as (.+) nor as UTF-8; pass the file's encoding with "
            r"--encoding or fix that line",
            "第 {0} 行既不是有效的 {1} 也不是 UTF-8；请用 --encoding 指定文件编码，或修正该行",
        ),
        *(
            (
                en + r" (.+); pass the file's encoding with --encoding or the mapping's encoding "
                r"key \(e\.g\. gb18030 for Chinese exports\)",
                zh
                + "；请用 --encoding 或映射文件的 encoding 指定文件编码（中文导出文件如 gb18030）",
            )
            for en, zh in (
                ("header is not valid", "表头不是有效的 {0} 编码"),
                ("bytes that are not valid", "含有不是有效 {0} 编码的字节"),
            )
        ),
        (r"file is empty \(0 bytes\)", "文件为空（0 字节）"),
        (r"file is empty \(no header row\)", "文件为空（没有表头行）"),
        (r"has a header but no data rows", "只有表头，没有数据行"),
        *(
            (
                r"the \.xlsx file is damaged or not an Excel file \(" + detail + r"\)\. Open it "
                r"in Excel or WPS and save it again as \.xlsx, or export a CSV",
                f"该 .xlsx 文件已损坏或不是 Excel 文件（{detail_zh}）。请用 Excel 或 WPS 打开后"
                "重新保存为 .xlsx，或导出为 CSV",
            )
            for detail, detail_zh in (
                (r"empty", "空文件"),
                (
                    r"not a zip archive, as every \.xlsx is; a CSV needs \.csv",
                    "不是 zip 压缩包，而 .xlsx 都是；CSV 文件的扩展名应为 .csv",
                ),
                (r"a cut or broken zip archive: (.+)", "zip 压缩包被截断或损坏：{0}"),
                (r"a zip archive without a workbook inside", "zip 压缩包中没有工作簿"),
                (r"(.+)", "{0}"),
            )
        ),
        (
            r"output folder (.+) is in use by another xunfang run \(pid (.+?): (.+)\); wait "
            r"for it to finish or give another --out \(lock (.+)\)",
            "输出目录 {0} 正被另一个 xunfang 进程使用（pid {1}：{2}）；请等它结束或换一个 "
            "--out（锁文件 {3}）",
        ),
        (
            r"boundary file not found \(check XUNFANG_DATA_DIR\)",
            "边界文件不存在（请检查 XUNFANG_DATA_DIR）",
        ),
        (r"boundary file not found", "边界文件不存在"),
        (r"road file not found", "道路文件不存在"),
        (r"\[Errno 2\] No such file or directory: (.+)", "文件或目录不存在：{0}"),
        (r"--incidents (.+): no file matches", "--incidents {0}：没有匹配的文件"),
        (
            r"--incidents (.+): no \.csv, \.csv\.gz or \.parquet inside",
            "--incidents {0}：其中没有 .csv、.csv.gz 或 .parquet 文件",
        ),
        (
            r"data directory (.+) does not exist: set XUNFANG_DATA_DIR \(or --data-dir\) to (.+)",
            "数据目录 {0} 不存在：请将 XUNFANG_DATA_DIR（或 --data-dir）设为 {1}",
        ),
        # columns
        (
            r"missing column (.+?) \((.+?)\) required by profile (.+?) \(and \d+ more: (.+?)\)"
            r"(?: \(layout .+?\))?; the header has: (.+)",
            "缺少列 {0}（{1}），配置 {2} 需要此列（还缺少：{3}）；表头中的列：{4}",
        ),
        (
            r"missing column (.+?) \((.+?)\) required by profile (.+?)"
            r"(?: \(layout .+?\))?; the header has: (.+)",
            "缺少列 {0}（{1}），配置 {2} 需要此列；表头中的列：{3}",
        ),
        (
            r"no (\w+) column for profile (.+): expected one of (.+); the header has: (.+)\. "
            r"Name the columns in a --mapping file if they differ",
            "配置 {1} 找不到 {0} 列：应为 {2} 之一；表头中的列：{3}。"
            "如列名不同，请在 --mapping 文件中指定",
        ),
        (r"cannot read city file: (.+)", "无法读取城市文件：{0}"),
        (
            r"--out (.+) is the plan folder (.+) or inside it: (.+) would overwrite the plan's "
            r"files \(each district's report\.html\); give another folder as --out",
            "--out {0} 是方案文件夹 {1} 或其子文件夹：{2} 会覆盖方案的文件（各辖区的 "
            "report.html）；请另选一个文件夹作 --out",
        ),
        (
            r"--out (.+) is the folder (.+) of a city run of xunfang (.+?) or inside it "
            r"\((.+)\): (.+) would overwrite its files \(each district's report\.html\); give "
            r"another folder as --out",
            "--out {0} 是 xunfang {2} 城市运行的文件夹 {1} 或其子文件夹（{3}）：{4} 会覆盖其文件"
            "（各辖区的 report.html）；请另选一个文件夹作 --out",
        ),
        (
            r"--out (.+) holds another command's output \((.+)\): (.+?) would overwrite its "
            r"report\.html; give an empty folder or a (.+?) folder as --out",
            "--out {0} 中已有其他命令的输出（{1}）：{2} 会覆盖其中的 report.html；请用空文件夹"
            "或 {3} 的文件夹作 --out",
        ),
        (
            r"--stations (.+) cannot be used with --plan-dir (.+): the stations are the "
            r"plan's \(sites\.csv\); run xunfang plan with --stations to use other stations",
            "--stations {0} 不能与 --plan-dir {1} 同用：派出所取自方案（sites.csv）；"
            "如需换用其他派出所，请用 --stations 重新运行 xunfang plan",
        ),
        (
            r"the stations file (.+) does not exist: correct the path \(a relative path is "
            r"read from the city file's folder, data:PATH from the data directory\) or remove "
            r"the field",
            "派出所文件 {0} 不存在：请改正路径（相对路径从城市文件所在文件夹算起，data:路径 从数据"
            "目录算起）或删去该字段",
        ),
        (
            r"not UTF-8 text \(byte (0x[0-9a-f]{2}) at position (\d+)\): a TOML file is UTF-8; "
            r"save it as UTF-8",
            "不是 UTF-8 文本（位置 {1} 的字节 {0}）：TOML 文件须为 UTF-8 编码，请另存为 UTF-8",
        ),
        (r"unknown field\(s\) (.+?) in (\S+); known: (.+)", "{1} 中有未知字段 {0}；已知字段：{2}"),
        (r"unknown field\(s\) (.+?); known: (.+)", "未知字段 {0}；已知字段：{1}"),
        (
            r"(.+) has no road network: give --roads FILE \(OpenStreetMap \.osm/\.pbf, GraphML "
            r"or a road-line file\) or roads in the city file",
            "{0} 没有路网：请用 --roads 文件（OpenStreetMap .osm/.pbf、GraphML 或道路线文件）"
            "或在城市文件中给出 roads",
        ),
        (
            r"no incident files for (.+?) \(the city file names none\); pass --incidents",
            "{0} 没有警情文件（城市文件未指定）；请用 --incidents 指定",
        ),
        (
            r"no incident files for (.+?) \(the city file names none\); pass --incidents or "
            r"run `(.+)`",
            "{0} 没有警情文件（城市文件未指定）；请用 --incidents 指定，或运行 `{1}`",
        ),
        (
            r"no incident files for (.+?) \((.+)\); pass --incidents",
            "{0} 没有警情文件（{1}）；请用 --incidents 指定",
        ),
        (
            r"no incident files for (.+?) \((.+)\); pass --incidents or run `(.+)`",
            "{0} 没有警情文件（{1}）；请用 --incidents 指定，或运行 `{2}`",
        ),
        (
            r"no ingest profile for the incidents of (.+): give --profile \((.+)\) or "
            r"--mapping FILE\.toml",
            "{0} 的警情没有导入配置：请用 --profile（{1}）或 --mapping 文件.toml",
        ),
        (
            r"no community area or police district named (.+?); use e\.g\. (.+)",
            "没有名为 {0} 的社区或警区；请使用如 {1}",
        ),
        # frames, options
        (
            r"--workers > 1 needs PostgreSQL: SQLite serialises writers on one file lock, so "
            r"the service runs one process on it",
            "--workers > 1 需要 PostgreSQL：SQLite 在一个文件锁上串行写入，因此服务只能用一个进程",
        ),
        (
            r"give --area \(e\.g\. district:1\) or --boundary FILE",
            "请给出 --area（如 district:1）或 --boundary 文件",
        ),
        (r"(.+): frame (.+) is not one of (.+)", "{0}：坐标系 {1} 不是 {2} 之一"),
        (
            r"frame (.+) is not a known coordinate frame; use one of (.+)",
            "坐标系 {0} 无法识别；请使用 {1} 之一",
        ),
        (r"(--[\w-]+) must be one of (.+), got (.+)", "{0} 只能取 {1}，实际为 {2}"),
        (
            r"--future-days must be 0 to 36500 days, got (.+)",
            "--future-days 必须在 0 到 36500 天之间，实际为 {0}",
        ),
        (
            r"--future-hours must be 0 to 876000 hours, got (.+)",
            "--future-hours 必须在 0 到 876000 小时之间，实际为 {0}",
        ),
        (
            r"give --future-hours or --future-days, not both",
            "--future-hours 与 --future-days 只能给出其一",
        ),
        (
            r"--header-row must be a number from 1 or auto, got (.+)",
            "--header-row 必须是从 1 起的行号或 auto，实际为 {0}",
        ),
        (
            r"--tier-weights (.+): three numbers, e\.g\. 3,2,1",
            "--tier-weights {0}：应为三个数，如 3,2,1",
        ),
        (
            r"(.+) has no boundary layer (.+); layers: (.+?) \(e\.g\. --area (\S+):NAME for one "
            r"polygon of the \S+ layer, --area \S+:all or --area all for each of them\)",
            "{0} 没有边界图层 {1}；可用图层：{2}（如 --area {3}:名称 规划其中一个多边形，"
            "--area {3}:all 或 --area all 逐个规划每个多边形）",
        ),
        (
            r"--area (\S+) means each (\S+) on its own, which only `xunfang plan` does \(deploy "
            r"and simulate run then take its folder with --plan-dir\); this command works on "
            r"one area: give --area city for the whole city as one area, --area (\S+) for some "
            r"of them as one, or run it once per \S+ \(`xunfang areas \S+` lists them\)",
            "--area {0} 表示逐个处理每个 {1}，只有 `xunfang plan` 这样做（deploy 和 simulate run "
            "再用 --plan-dir 读取其输出文件夹）；本命令只处理一个区域：整个城市作为一个区域请用 "
            "--area city，其中几个合为一个区域请用 --area {2}，或对每个 {1} 各运行一次"
            "（`xunfang areas {1}` 列出全部名称）",
        ),
        *(
            (
                r"area (.+) is not the area of the plan in (.+) \((.+)\): --plan-dir simulates "
                r"each of the plan's areas on its own; remove area from \[scenario\] \(or give "
                r"the plan's\)" + en,
                "区域 {0} 不是 {1} 中方案的区域（{2}）：--plan-dir 对方案的每个区域分别仿真；请从 "
                "[scenario] 中删去 area（或写方案的区域）" + zh,
            )
            for en, zh in (
                (
                    r"; to simulate (.+) alone, run without --plan-dir with \[plan\] sites_csv "
                    r"= (.+)",
                    "；如只仿真 {3}，请不用 --plan-dir 运行，并在 [plan] 中写 sites_csv = {4}",
                ),
                ("", ""),
            )
        ),
        (
            r"(.+) has no boundary layer (.+); layers: (.+)",
            "{0} 没有边界图层 {1}；可用图层：{2}",
        ),
        (
            r"NIJ rules: --cell-ft must be (\S+)-(\S+) ft \(a cell of 62,500-360,000 sq ft\), "
            r"got (.+)",
            "NIJ 规则：--cell-ft 必须在 {0}-{1} 英尺之间（网格面积 62,500-360,000 平方英尺），"
            "实际为 {2}",
        ),
        (
            r"NIJ rules: --hotspot-sq-mi must be (\S+)-(\S+) square miles of flagged cells, "
            r"got (.+)",
            "NIJ 规则：--hotspot-sq-mi 必须在 {0}-{1} 平方英里之间（标记网格的面积），实际为 {2}",
        ),
        (r"--horizons: (.+) is not one of (.+)", "--horizons：{0} 不是 {1} 之一"),
        (r"--categories (.+): known are (.+)", "--categories {0}：已知类别为 {1}"),
        (r"(--\S+) must be positive, got (.+)", "{0} 必须为正数，实际为 {1}"),
        (
            r"--types is empty \(got (.*)\): give type groups or types separated by commas, "
            r"or leave --types out for the default groups",
            "--types 为空（实为 {0}）：请给出以逗号分隔的类别组或类别，或不给 --types "
            "以使用默认类别组",
        ),
        (
            r"none of the ([\d,]+) incidents lies inside --area (.+?) \(city: (.+?)"
            r"\): the area is of another place than the incidents \(or in another frame\); "
            r"give the incidents' own city or boundary \(--city FILE, --boundary FILE\) or no "
            r"--area",
            "{0} 起警情无一落在 --area {1}（城市 {2}）内"
            "：研究区与警情不在同一地方（或坐标系不同）；请给出警情所在城市的城市文件或边界"
            "（--city FILE、--boundary FILE），或不给 --area",
        ),
        (
            r"none of the ([\d,]+) incidents lies inside --area (.+?) \(boundary files"
            r"\): the area is of another place than the incidents \(or in another frame\); "
            r"give the incidents' own city or boundary \(--city FILE, --boundary FILE\) or no "
            r"--area",
            "{0} 起警情无一落在 --area {1}（边界文件）内"
            "：研究区与警情不在同一地方（或坐标系不同）；请给出警情所在城市的城市文件或边界"
            "（--city FILE、--boundary FILE），或不给 --area",
        ),
        (
            r"--cell-m (\S+) over the study area \((\S+) x (\S+) km\) makes ([\d,]+) cells, "
            r"more than ([\d,]+): give --cell-m (\d+) or more",
            "--cell-m {0} 在研究区（{1} x {2} 公里）上会产生 {3} 个网格，超过 {4} 个：请用 "
            "--cell-m {5} 或更大",
        ),
        (
            r"--window must be day, night, week or HH-HH \(e\.g\. 22-06\), got (.+)",
            "--window 必须为 day、night、week 或 HH-HH（如 22-06），实际为 {0}",
        ),
        (
            r"empty training set: none of the ([\d,]+) incidents lies inside the grid's study "
            r"area \(check the area and the CRS\)",
            "训练集为空：{0} 起警情无一落在网格的研究区内（请检查研究区和坐标系）",
        ),
        (
            r"--lookback-days must be 0 \(all history\) or more, got (.+)",
            "--lookback-days 必须为 0（全部历史）或更大，实际为 {0}",
        ),
        (
            r"--start must be a date like 2015-06-01, got (.+)",
            "--start 必须是日期，如 2015-06-01，实际为 {0}",
        ),
        (
            r"--types (.+) match no type group (.+), type \(e\.g\. (.+)\) or subtype "
            r"\(e\.g\. (.+)\) of the data",
            "--types {0} 与数据中的类别组 {1}、类别（如 {2}）和细类（如 {3}）均不匹配",
        ),
        (
            r"unknown forecast method (.+) in (.+); methods: (.+)",
            "{1} 中的预测方法 {0} 不存在；可用方法：{2}",
        ),
        # areas, positions
        (
            r"no polygon named (.+) in (.+); use KIND:NAME, e\.g\. (.+) "
            r"\(`xunfang areas` lists them\)",
            "{1} 中没有名为 {0} 的区域；请用 类别:名称，如 {2}（`xunfang areas` 列出全部名称）",
        ),
        (
            r"--area (.+): no (\w+) named (.+); the \w+ layer has (.+)",
            "--area {0}：没有名为 {2} 的 {1}；该图层有 {3}",
        ),
        (
            r"(--[\w-]+) must be LON,LAT in degrees \(e\.g\. 121\.4737,31\.2304\); got (.+)",
            "{0} 必须为“经度,纬度”（度，如 121.4737,31.2304）；实际为 {1}",
        ),
        (
            r"(--[\w-]+) (.+) is not a lon/lat position \(it looks like LAT,LON: give the "
            r"longitude first\)",
            "{0} {1} 不是经纬度位置（看起来是“纬度,经度”：请先写经度）",
        ),
        (r"(--[\w-]+) (.+) is not a lon/lat position", "{0} {1} 不是经纬度位置"),
        (
            r"(--[\w-]+) (.+) is ([\d,]+) m from the nearest road node of (.+) \(more than "
            r"--max-snap-m (.+) m\): a point outside the road file, or check --frame \(a "
            r"GCJ-02 point read as WGS-84 is off by about 500 m in China\)",
            "{0} {1} 距 {3} 最近的道路节点 {2} 米（超过 --max-snap-m {4} 米）：该点在道路文件"
            "范围之外，或请检查 --frame（GCJ-02 坐标按 WGS-84 读取，在中国约偏 500 米）",
        ),
        # options, areas, columns (tester's run 8: these stayed English under --lang zh)
        (r"(--[\w-]+) must be > 0, got (.+)", "{0} 必须大于 0，实际为 {1}"),
        (
            r"(--[\w-]+) must be at most (\S+) minutes, got (.+)",
            "{0} 不能超过 {1} 分钟，实际为 {2}",
        ),
        (
            r"--booths (\d+) plus (\d+) fixed sites exceeds the (\d+) candidate sites",
            "--booths {0} 加上 {1} 个固定点位，超过了 {2} 个候选点位",
        ),
        (
            r"(.+) holds (\d+) polygons: choose with (--.+?) \(names: (.+)\)",
            "{0} 含 {1} 个多边形：请用 {2} 选择（名称：{3}）",
        ),
        (r"(--[\w-]+|\w+) must be >= 0, got (.+)", "{0} 必须大于或等于 0，实际为 {1}"),
        (r"has no property (.+) \(found (.+)\)", "没有属性 {0}（已有属性：{1}）"),
        (r"areas named more than once: (.+)", "区域被重复指定：{0}"),
        (
            r"no incidents in (\S+) \((.+) \.\. (.+)\); pick a month covered by the incident "
            r"files",
            "{0}（{1} 至 {2}）没有警情；请选择警情文件覆盖的月份",
        ),
        (
            r"the plan in (.+) is for (.+), not (.+): its booths and sectors lie in another "
            r"area; serve (.+) \(--area (.+)\) or give the plan folder of (.+)",
            "{0} 中的方案是为 {1} 做的，不是 {2}：其岗亭和巡区在另一个区域；请服务 {3}"
            "（--area {4}），或给出 {5} 的方案文件夹",
        ),
        (
            r"not found: give the output folder of `xunfang plan --area district:all`",
            "不存在：请给出 `xunfang plan --area district:all` 的输出文件夹",
        ),
        (
            r"not found: --plan-dir must be the output folder of `xunfang plan`",
            "不存在：--plan-dir 必须是 `xunfang plan` 的输出文件夹",
        ),
        (
            r"not found: give the output folder of `xunfang plan`",
            "不存在：请给出 `xunfang plan` 的输出文件夹",
        ),
        (
            r"no \w+ named (.+?) in (.+) \((--[\w-]+)\); known names: (.+)",
            "{1} 中没有名为 {0} 的区域（{2}）；已有名称：{3}",
        ),
        (
            r"property (.+) is empty for (\d+) of (\d+) polygons \(the first: polygon (\d+)\); "
            r"name every polygon, or choose another property \(found (.+)\)",
            "属性 {0} 在 {2} 个多边形中有 {1} 个为空（第一个：多边形 {3}）；请为每个多边形命名，"
            "或选择其他属性（已有属性：{4}）",
        ),
        (
            r"no \w+ named (.+?) in (.+); known names: (.+)",
            "{1} 中没有名为 {0} 的区域；已有名称：{2}",
        ),
        (
            r"two columns are named (.+): column (\d+) and column (\d+) of the header; rename "
            r"one so that it is clear which to read",
            "有两列都名为 {0}：表头第 {1} 列和第 {2} 列；请重命名其中一列，以明确应读取哪一列",
        ),
        (
            r"(--since|--until): (.+) is not a date \(use YYYY-MM-DD or 'YYYY-MM-DD HH:MM'\)",
            "{0}：{1} 不是日期（请用 YYYY-MM-DD 或 'YYYY-MM-DD HH:MM'）",
        ),
        (
            r"the last (\d+) (\S+) windows \(no --start given\) reach back to (\S+), before "
            r"the data \(first incident (.+?)\): give --windows (\d+) or fewer, or more history",
            "最近 {0} 个时段（--window {1}，未给出 --start）回溯到 {2}，早于数据开始"
            "（第一起警情 {3}）：请用 --windows {4} 或更少，或提供更多历史数据",
        ),
        (
            r"a test window starts at (.+?), with no incident before it \(first incident "
            r"(.+?), local time\): choose a later --start",
            "有一个测试时段开始于 {0}，其之前没有警情（第一起警情 {1}，当地时间）：请选择更晚的 "
            "--start",
        ),
        (
            r"all ([\d,]+) incidents are known only to the day \(no time of day\): --window "
            r"(.+?), some hours of the day, cannot be forecast or scored from them; use "
            r"--window day or week",
            "全部 {0} 起警情只有日期、没有具体时间：无法对一天中的部分时段（--window {1}）"
            "做预测或评分；请用 --window day 或 week",
        ),
        (
            r"the first window starts at (.+?) local time, before the data: choose a later "
            r"--start",
            "第一个时段开始于 {0}（当地时间），早于数据开始：请选择更晚的 --start",
        ),
        (
            r"the last window ends at (.+?) local time, after the data: use an earlier --start "
            r"or fewer --windows",
            "最后一个时段结束于 {0}（当地时间），晚于数据结束：请用更早的 --start "
            "或更少的 --windows",
        ),
        (
            r"the last test window ends at (.+?), after the data \(last incident (.+?), local "
            r"time\): use an earlier --start or fewer --windows",
            "最后一个测试时段结束于 {0}，晚于数据结束（最后一起警情 {1}，当地时间）：请用更早的 "
            "--start 或更少的 --windows",
        ),
        (
            r"--since (.+) must be before --until (.+)",
            "--since {0} 必须早于 --until {1}",
        ),
        (
            r"incidents: (.+) is an ingested table but (.+) is a raw file; ingest the raw "
            r"files with `xunfang ingest` and pass the ingested folders together",
            "incidents：{0} 是已导入的数据表，而 {1} 是原始文件；"
            "请先用 `xunfang ingest` 导入原始文件，再一并给出已导入的文件夹",
        ),
        # forecast method values and windows (a new-user test's --lang zh run)
        (r"(\w+) must be a positive number, got (.+)", "{0} 须为正数，实为 {1}"),
        (
            r"max_rows must be a whole number of at least (\S+) \(or none\), got (.+)",
            "max_rows 须为不小于 {0} 的整数（或 none），实为 {1}",
        ),
        (
            r"prefer must be one of the candidates \((.+)\) or none, got (.+)",
            "prefer 须为候选方法之一（{0}）或 none，实为 {1}",
        ),
        (r"--windows must be at least 1, got (.+)", "--windows 至少为 1，实为 {0}"),
        (
            r"forecast predict forecasts with one method, got (.+): give one \(e\.g\. auto\), "
            r"or compare them with forecast evaluate --methods (.+)",
            "forecast predict 只用一种方法预测，实为 {0}：请只给一种（如 auto），或用 "
            "forecast evaluate --methods {1} 比较它们",
        ),
        (
            r"no incident in the history before (.+) \(look-back all history; data from "
            r"(.+) to (.+), local time\): choose an earlier --start or a longer --lookback-days",
            "{0} 之前的历史中没有警情（回看全部历史；数据自 {1} 至 {2}，当地时间）：请用更早的 "
            "--start 或更长的 --lookback-days",
        ),
        (
            r"no incident in the history before (.+) \(look-back (\S+) days; data from "
            r"(.+) to (.+), local time\): choose an earlier --start or a longer --lookback-days",
            "{0} 之前的历史中没有警情（回看 {1} 天；数据自 {2} 至 {3}，当地时间）：请用更早的 "
            "--start 或更长的 --lookback-days",
        ),
        (
            r"no incident in the history before (.+) \(look-back all history; data from "
            r"(.+) to (.+), local time\): choose a later --start",
            "{0} 之前的历史中没有警情（回看全部历史；数据自 {1} 至 {2}，当地时间）：请用更晚的 "
            "--start",
        ),
        (
            r"no incident in the history before (.+) \(look-back (\S+) days; data from "
            r"(.+) to (.+), local time\): choose a later --start",
            "{0} 之前的历史中没有警情（回看 {1} 天；数据自 {2} 至 {3}，当地时间）：请用更晚的 "
            "--start",
        ),
    )
)
"""Chinese texts of the command line's common error messages, by the English message (a
pattern: the first that matches the whole message wins); file, row, field, option and
area names stay verbatim."""

_BAD_BYTES_HINT_ZH = "；或用 --bad-bytes reject-row 只拒绝含有这类字节的行"
"""The Chinese of :data:`xunfang.ingest.readers.BAD_BYTES_HINT`."""
_FRAME_HINT = re.compile(
    r"; ([\d,]+) of the ([\d,]+) incidents read fall outside (.+), ([\d,]+) of them within 1 km "
    r"of it: if the area is right, check --frame \(the frame of the incident coordinates: "
    r"wgs84, gcj02 or bd09\)$",
    re.DOTALL,
)
"""The tail :func:`xunfang.plan.booth_plan.frame_hint` puts on a too-few-incidents message."""
_WHERE = re.compile(
    r"^(.+?)((?:, row \d+)?)((?:, feature \d+)?)((?:, field '[^']*')?): (.+)$", re.DOTALL
)


def error_text(message: str, lang: str = "en") -> str:
    """The error ``message`` (English, as raised) in ``lang``: for ``zh`` the Chinese text
    of a known message (the file, row and field in front of a data-file error kept, their
    words translated), else the message as it is.

    Examples
    --------
    >>> error_text("x.csv, row 3: file not found", "zh")
    'x.csv 第 3 行：文件不存在'
    >>> error_text("x.geojson, feature 2: site files hold points; this feature is a Polygon", "zh")
    'x.geojson 第 2 个要素：点位文件应为点；该要素是 Polygon'
    """
    if lang != "zh":
        return message
    if message.endswith(BAD_BYTES_HINT):  # the way through a refused file, on any message
        return error_text(message.removesuffix(BAD_BYTES_HINT), lang) + _BAD_BYTES_HINT_ZH
    for tail, tail_zh in (
        (INGEST_FIRST_HINT, _INGEST_FIRST_HINT_ZH),
        (ENCODING_NOTE, _ENCODING_NOTE_ZH),
    ):
        if message.endswith(tail):  # outside `xunfang ingest` (:func:`ingest_first`)
            return error_text(message.removesuffix(tail), lang) + tail_zh
    frame = _FRAME_HINT.search(message)
    if frame:  # most incidents beside the area (xunfang.plan.booth_plan.frame_hint)
        n_out, n, area, near = frame.groups()
        return (
            error_text(message[: frame.start()], lang)
            + f"；读入的 {n} 起警情中有 {n_out} 起在 {area} 之外，其中 {near} 起距其 1 公里以内："
            "若区域无误，请检查 --frame（警情坐标的坐标系：wgs84、gcj02 或 bd09）"
        )
    zh = _error_zh(message)
    if zh is not None:
        return zh
    m = _WHERE.match(message)
    if m:
        rest = _error_zh(m.group(5))
        if rest is not None:
            where = m.group(1)
            if m.group(2):
                where += f" 第 {m.group(2).removeprefix(', row ')} 行"
            if m.group(3):  # a vector file's feature, 1-based
                where += f" 第 {m.group(3).removeprefix(', feature ')} 个要素"
            if m.group(4):
                where += f"，字段 {m.group(4).removeprefix(', field ')}"
            return f"{where}：{rest}"
    # a forecaster's own errors (too little history, gbm with nothing to learn from)
    from xunfang.analyse.forecast.select import error_text as forecast_error_text

    return forecast_error_text(message, lang)


_NO_USABLE_ROWS = re.compile(
    r"no usable rows: every row was rejected: (.+?)"
    r"(?:; e\.g\. row (\d+) field (.+?) = (.+), expected (.+))?",
    re.DOTALL,
)
"""The error of a file none of whose rows is usable (:func:`xunfang.ingest.incidents.ingest`):
the rejected rows in words, then the first example."""


_STANDARDS_ZH: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"(\w+): must be a positive number, got (.+)", re.DOTALL),
        "{0}：应为正数，实为 {1}",
    ),
    (re.compile(r"(\w+): unknown key \(known: (.+)\)"), "{0}：未知的键（可用的键：{1}）"),
    (
        re.compile(r"standards: (\w+) must be a positive number of seconds"),
        "考核标准：{0} 应为正的秒数",
    ),
)
"""The problems of a KPI standards file (:func:`xunfang.serve.api.codes.load_standards`,
joined by ``; ``) in Chinese."""


def _standards_zh(message: str) -> str | None:
    out = []
    for part in message.split("; "):
        m = next((m for p, _ in _STANDARDS_ZH if (m := p.fullmatch(part))), None)
        if m is None:
            return None
        zh = next(z for p, z in _STANDARDS_ZH if p is m.re)
        out.append(zh.format(*m.groups()))
    return "；".join(out)


_TOML_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), zh)
    for pattern, zh in (
        (r"Invalid value", "值无效"),
        (r"Invalid statement", "语句无效"),
        (r"Expected newline or end of document after a statement", "一条语句之后应换行或结束"),
        (r"Expected '=' after a key in a key/value pair", "键值对的键之后应为 '='"),
        (r"Expected '\]' at the end of a table declaration", "表头末尾应为 ']'"),
        (r"Expected '\]\]' at the end of an array declaration", "表数组的表头末尾应为 ']]'"),
        (r"Expected (.+)", "此处应为 {0}"),
        (r"Found invalid character (.+)", "无效字符 {0}"),
        (r"Illegal character (.+)", "非法字符 {0}"),
        (r"Invalid initial character for a key part", "键的第一个字符无效"),
        (r"Cannot declare (.+) twice", "{0} 不能声明两次"),
        (r"Cannot overwrite a value", "不能覆盖已有的值（键重复）"),
        (r"Cannot mutate immutable namespace (.+)", "不能修改不可变的命名空间 {0}"),
        (r"Cannot redefine namespace (.+)", "不能重新定义命名空间 {0}"),
        (r"Duplicate inline table key (.+)", "内联表中的键 {0} 重复"),
        (r"Unclosed array", "数组缺少结尾的 ']'"),
        (r"Unclosed inline table", "内联表缺少结尾的 '}}'"),
        (r"Unterminated string", "字符串没有结尾的引号"),
        (r"Unescaped '\\' in a string", "字符串中有未转义的 '\\'"),
        (r"Invalid hex value", "十六进制值无效"),
        (r"Escaped character is not a Unicode scalar value", "转义字符不是 Unicode 标量值"),
        (r"Invalid date or datetime", "日期或日期时间无效"),
    )
)
"""The messages of Python's TOML parser (:mod:`tomllib`, ``msg (at line L, column C)``)
in Chinese (:func:`toml_error_zh`)."""
_TOML_AT = re.compile(r"(.+) \(at (?:line (\d+), column (\d+)|(end of document))\)", re.DOTALL)


def toml_error_zh(detail: str) -> str:
    """The parser's message of a file that is not valid TOML (the text after ``not valid
    TOML: ``) in Chinese, keeping its line and column; a message not known here is kept as
    the parser wrote it, after the Chinese place.

    Examples
    --------
    >>> toml_error_zh("Invalid value (at line 1, column 6)")
    '第 1 行第 6 列：值无效'
    >>> toml_error_zh("Unclosed array (at end of document)")
    "文件末尾：数组缺少结尾的 ']'"
    """
    m = _TOML_AT.fullmatch(detail)
    what, where = detail, None
    if m:
        what = m.group(1)
        where = "文件末尾" if m.group(4) else f"第 {m.group(2)} 行第 {m.group(3)} 列"
    said = what
    for pattern, zh in _TOML_ZH:
        hit = pattern.fullmatch(what)
        if hit:
            said = zh.format(*hit.groups())
            break
    return f"{where}：{said}" if where else said


_NOT_TOML = re.compile(r"not valid TOML: (.+)", re.DOTALL)


def _error_zh(message: str) -> str | None:
    standards = _standards_zh(message)
    if standards is not None:
        return standards
    toml = _NOT_TOML.fullmatch(message)
    if toml:  # a mapping, standards, roster, scenario or city file
        return f"不是有效的 TOML：{toml_error_zh(toml.group(1))}"
    m = _NO_USABLE_ROWS.fullmatch(message)
    if m:
        summary, row, field, value, expected = m.groups()
        example = (
            f"；例：第 {row} 行字段 {field} = {value}，应为 {expected_text(expected, 'zh')}"
            if row
            else ""
        )
        return f"没有可用的行：每一行都被拒绝：{rejection_summary_text(summary, 'zh')}{example}"
    for pattern, zh in _ERRORS_ZH:
        m = pattern.fullmatch(message)
        if m:
            groups = [g or "" for g in m.groups()]
            return zh.format(*groups)
    return None


P = ParamSpec("P")
R = TypeVar("R")


def fail(exc: BaseException, lang: str = "en", *, ingest_options: bool = False) -> typer.Exit:
    """Print ``error: <message>`` (``lang`` ``zh``: ``错误：`` and the Chinese text of a
    known message, :func:`error_text`) to standard error; the caller raises the returned
    exit (code 2). Unless the command has ``--encoding`` and ``--bad-bytes``
    (``ingest_options``: ``xunfang ingest``), hints naming them say to ingest first
    (:func:`ingest_first`).

    When the error is a missing file inside the data directory (the environment's, or
    ./data by default), the message goes on to say where xunfang looked and how to set
    ``XUNFANG_DATA_DIR`` (:func:`xunfang.config.data_dir_hint`)."""
    head = "错误：" if lang == "zh" else "error: "
    message = error_text(str(exc), lang) if ingest_options else reason_text(str(exc), lang)
    hint = _missing_data_hint(exc)
    if hint and hint not in message:
        message = f"{message}；{data_dir_hint_text(hint)}" if lang == "zh" else f"{message}; {hint}"
    err_console.print(f"[bold red]{head}[/]{escape(message)}", soft_wrap=True)
    return typer.Exit(code=2)


INGEST_FIRST_HINT = (
    "; or reject only the rows holding such bytes: `xunfang ingest FILE --bad-bytes "
    "reject-row --out DIR`, then give --incidents DIR"
)
"""What :data:`xunfang.ingest.readers.BAD_BYTES_HINT` says in commands without
``--bad-bytes`` (plan, deploy, simulate, forecast): ingest first, pass the folder."""
_INGEST_FIRST_HINT_ZH = (
    "；或先用 `xunfang ingest 文件 --bad-bytes reject-row --out 文件夹` 只拒绝含有这类字节的行，"
    "再用 --incidents 文件夹"
)
ENCODING_NOTE = (
    " (--encoding is an option of `xunfang ingest`: ingest the file with it and give "
    "--incidents the folder it writes, or state encoding in a --mapping file)"
)
"""Put after a message naming ``--encoding`` in a command that has no such option."""
_ENCODING_NOTE_ZH = (
    "（--encoding 是 `xunfang ingest` 的选项：先用它导入文件，再用 --incidents 指定导入输出的"
    "文件夹；或在 --mapping 映射文件中写明 encoding）"
)


def ingest_first(message: str) -> str:
    """``message`` as it should read in a command other than ``xunfang ingest``:
    ``--bad-bytes`` and ``--encoding`` are options of ``ingest`` only, so elsewhere their
    hints say to ingest first and pass the ingested folder (:data:`INGEST_FIRST_HINT`,
    :data:`ENCODING_NOTE`).

    Examples
    --------
    >>> ingest_first("x.csv: bad bytes" + BAD_BYTES_HINT).endswith("--incidents DIR")
    True
    """
    tail = INGEST_FIRST_HINT if message.endswith(BAD_BYTES_HINT) else ""
    message = message.removesuffix(BAD_BYTES_HINT)
    if "--encoding" in message:
        message += ENCODING_NOTE
    return message + tail


def reason_text(message: str, lang: str = "en") -> str:
    """An error message of a command other than ``xunfang ingest`` as its user reads it:
    hints to ingest first (:func:`ingest_first`), in ``lang`` (:func:`error_text`). The one
    rule for an error printed by :func:`fail` and for a district's failure reason that a
    city run (plan, deploy, simulate) shows in its terminal summary and reports."""
    return error_text(ingest_first(message), lang)


_DATA_DIR_HINT = re.compile(
    r"looked in the data directory (.+) \((.+?)\)(, which does not exist)?; set "
    r"XUNFANG_DATA_DIR \(or --data-dir\) to the folder that holds (.+) \(as `make demo` "
    r"does: XUNFANG_DATA_DIR=\.\./shared/data beside the repository\)(?:, or download it with "
    r"`xunfang data fetch (.+)` \(for the cities `xunfang data fetch --help` lists\))?",
    re.DOTALL,
)
_DATA_DIR_SOURCE_ZH = {
    "from XUNFANG_DATA_DIR": "来自 XUNFANG_DATA_DIR",
    "from --data-dir": "来自 --data-dir",
    "the default: ./data of the current folder, as XUNFANG_DATA_DIR is not set": (
        "默认值：当前文件夹下的 ./data，因为未设置 XUNFANG_DATA_DIR"
    ),
}


def data_dir_hint_text(hint: str) -> str:
    """:func:`xunfang.config.data_dir_hint` in Chinese (unchanged if it does not match:
    a hint reworded there and not here is shown in English rather than lost)."""
    m = _DATA_DIR_HINT.fullmatch(hint)
    if m is None:
        return hint
    where, source, missing, folder, city = m.groups()
    holds = "存放城市文件夹的目录" if folder == "your city's folder" else f"包含 {folder} 的文件夹"
    return (
        f"已在数据目录 {where}（{_DATA_DIR_SOURCE_ZH.get(source, source)}）中查找"
        f"{'，该目录不存在' if missing else ''}；请将 XUNFANG_DATA_DIR（或 --data-dir）设为"
        f"{holds}（如 `make demo` 的做法：仓库旁的 XUNFANG_DATA_DIR=../shared/data）"
        + (
            f"，或用 `xunfang data fetch {city}` 下载（可下载的城市见 `xunfang data fetch --help`）"
            if city
            else ""
        )
    )


def _missing_data_hint(exc: BaseException) -> str:
    """:func:`xunfang.config.missing_data_hint` for a :class:`DataFileError`, else ``""``."""
    return missing_data_hint(exc.path) if isinstance(exc, DataFileError) else ""


def osm_annotation() -> dict[str, Any]:
    """A plotly layout annotation with the OpenStreetMap attribution, bottom right."""
    return {
        "text": OSM_ATTRIBUTION,
        "xref": "paper",
        "yref": "paper",
        "x": 1,
        "y": 0,
        "xanchor": "right",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": 10, "color": "#555"},
    }


def write_atomic(path: Path, text: str, *, encoding: str | None = None) -> Path:
    """Write ``text`` to ``path`` through a unique temporary file renamed when complete, so
    that a failed or interrupted run never leaves a half-written file under the real name
    (:func:`xunfang.outputs.write_text_atomic`). A ``.csv`` is written as UTF-8 with a
    byte-order mark (for spreadsheets) unless ``encoding`` says otherwise."""
    return write_text_atomic(path, text, encoding=encoding)


COMMAND_NAMES = {
    "plan_cmd": "plan",
    "deploy_cmd": "deploy",
    "run_cmd": "simulate run",
    "sweep_cmd": "simulate sweep",
    "ingest_cmd": "ingest",
    "kpi_cmd": "kpi",
    "predict_cmd": "forecast predict",
    "evaluate_cmd": "forecast evaluate",
    "reproduce_opencp_cmd": "forecast reproduce-opencp",
    "nij_cmd": "forecast nij",
}
"""The decorated command functions -> the command, as in
:data:`xunfang.outputs.OUTPUT_MARKERS`."""


def refuse_out_in_plan_dir(out: Path, plan_dir: Path, command: str) -> None:
    """Refuse to write ``command``'s output into the plan folder ``plan_dir`` or a folder
    inside it: its ``report.html`` (and, for a city plan, each district's) has the name of
    the plan's own and would overwrite it.

    Raises
    ------
    ValidationError
        If ``out`` is ``plan_dir`` or lies inside it (symbolic links resolved).
    """
    o, p = Path(out).resolve(), Path(plan_dir).resolve()
    if o == p or p in o.parents:
        raise ValidationError(
            f"--out {out} is the plan folder {plan_dir} or inside it: {command} would "
            "overwrite the plan's files (each district's report.html); give another folder "
            "as --out"
        )


CITY_RUN_SUMMARIES: dict[str, str] = {
    name: owner for name, owner in OUTPUT_MARKERS.items() if name.startswith("city_")
}
"""The summary file a city run writes at the top of its output folder -> its command (the
city runs' part of :data:`xunfang.outputs.OUTPUT_MARKERS`)."""


def refuse_out_in_city_run(out: Path, command: str) -> None:
    """Refuse to write ``command``'s output into the output folder of another command's
    city run, or a folder inside it: the folder (or one of its parents) holds one of
    :data:`CITY_RUN_SUMMARIES` of a command other than ``command``, and this run's
    per-district ``report.html`` files have the names of that run's own.

    Raises
    ------
    ValidationError
        If ``out`` or one of its parents (symbolic links resolved) holds the city summary
        of another command.
    """
    o = Path(out).resolve()
    for folder in (o, *o.parents):
        for name, owner in other_commands_output(folder, command).items():
            if name in CITY_RUN_SUMMARIES:
                raise ValidationError(
                    f"--out {out} is the folder {folder} of a city run of xunfang {owner} or "
                    f"inside it ({name}): {command} would overwrite its files (each district's "
                    "report.html); give another folder as --out"
                )


REPORT_WRITERS = frozenset(
    {
        "plan",
        "deploy",
        "simulate run",
        "kpi",
        "forecast predict",
        "forecast evaluate",
        "forecast reproduce-opencp",
        "forecast nij",
    }
)
"""The commands that write a ``report.html`` into their ``--out`` folder (as in
:data:`COMMAND_NAMES`): :func:`refuse_out_with_other_report` keeps them from overwriting
another command's."""

MARKER_BEFORE_REPORT = {"kpi": "kpi.json"}
"""Commands that write their marker file (:data:`xunfang.outputs.OUTPUT_MARKERS`) before
their ``report.html``: a ``report.html`` without that marker is not theirs. (``plan`` and
``deploy`` write their summary last, so an interrupted run of theirs leaves a report
without it.)"""


def refuse_out_with_other_report(out: Path, command: str = "kpi") -> None:
    """Refuse to write ``command``'s ``report.html`` into a folder holding another
    command's: one rule for every command in :data:`REPORT_WRITERS`. The ``report.html``
    there is another command's when the folder holds that command's marker file
    (:func:`xunfang.outputs.other_commands_output`; e.g. ``plan --out`` into a deploy
    folder, which once replaced the deploy's report after a mere warning), or, for a
    command of :data:`MARKER_BEFORE_REPORT` (``kpi``), when its own marker is missing. A
    folder that is missing or holds no ``report.html`` is written (a warning names any
    other command's files: :func:`warn_other_output`); so is the command's own earlier
    output.

    Raises
    ------
    ValidationError
        Naming the folder and the files found.
    """
    o = Path(out)
    if command not in REPORT_WRITERS or not (o / "report.html").is_file():
        return
    found = set(other_commands_output(o, command))
    own = MARKER_BEFORE_REPORT.get(command)
    if not found and (own is None or (o / own).is_file()):
        return
    found.add("report.html")
    raise ValidationError(
        f"--out {out} holds another command's output ({', '.join(sorted(found))}): "
        f"{command} would overwrite its report.html; give an empty folder or a "
        f"{command} folder as --out"
    )


def warn_other_output(out: Path, command: str, lang: str = "en") -> dict[str, str]:
    """Warn on standard error when ``out`` holds another command's output
    (:func:`xunfang.outputs.other_commands_output`): this run's files would be written
    beside that output, mixing the two sets in one folder. Returns what was found."""
    found = other_commands_output(out, command)
    if not found:
        return found
    owners = sorted(set(found.values()))
    files = ", ".join(sorted(found))
    if lang == "zh":
        err_console.print(
            f"[yellow]警告：[/]输出文件夹 {escape(str(out))} 中已有 "
            f"{'、'.join(f'xunfang {o}' for o in owners)} 的输出（{escape(files)}）："
            f"本次 {command} 的文件将与之混在一起；请用空文件夹作 --out 以分开",
            soft_wrap=True,
        )
    else:
        err_console.print(
            f"[yellow]warning:[/] the output folder {escape(str(out))} holds the output of "
            f"{', '.join(f'xunfang {o}' for o in owners)} ({escape(files)}): this "
            f"{command}'s files are written beside it, mixing the two; give an empty folder "
            "as --out to keep them apart",
            soft_wrap=True,
        )
    return found


def _exit_code(exc: BaseException) -> int | None:
    """The exit code ``exc`` ends the command with: 0 for a successful ``typer.Exit()`` or
    ``SystemExit(0)``/``SystemExit(None)``, its code for other exits, None for an error."""
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    code = getattr(exc, "exit_code", None)  # typer.Exit, click.exceptions.Exit
    return code if isinstance(code, int) else None


def _exit_on_sigterm() -> Any:
    """In the main thread, make SIGTERM (``kill``, ``timeout``, a service manager) raise
    ``SystemExit(143)`` so that a writing command releases its lock and removes the empty
    folder it made, as on Ctrl-C (a killed run left a folder holding only its stale lock,
    a new-user test); the previous handler, to restore, or ``None`` elsewhere."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def _term(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, _term)


def writes_output_folder(command: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command that writes the output folder given as its ``out`` argument: the
    command runs holding that folder (:class:`xunfang.outputs.OutputLock`,
    ``<out>/.xunfang.lock``), released when it returns or fails.

    Every command that writes an output folder (``ingest``, ``kpi``, ``plan``, ``deploy``,
    ``simulate run``/``sweep``, ``forecast ...``, and so the city runs) is decorated with
    this one helper, so that two runs into one folder cannot mix their files.

    A folder that holds another command's output (e.g. ``ingest --out`` into a deploy
    folder) is written all the same, after a warning naming that command and its files
    (:func:`warn_other_output`); but a command that writes a ``report.html`` refuses one
    holding another command's (:func:`refuse_out_with_other_report`), ``deploy`` and
    ``simulate run`` refuse an ``out`` that is their ``plan_dir`` or inside it
    (:func:`refuse_out_in_plan_dir`), and they and
    ``plan`` refuse the output folder of another command's city run or a folder inside it
    (:func:`refuse_out_in_city_run`), before creating it.

    A run that is refused or fails (any exception, or an exit with a code other than 0;
    SIGTERM too, turned into exit code 143 while the command runs) leaves no empty folder
    it created: the folder ``out`` (and the missing parents the lock
    created) is removed again when nothing was written into it, with the empty folders
    this run made inside it (:meth:`xunfang.outputs.OutputLock.remove_made_if_empty`), so
    that a bad ``--since`` or a missing input file leaves nothing behind. A folder that
    existed before the run is never removed.

    Raises
    ------
    typer.Exit
        Code 2, after printing the error, when another process is writing ``out`` (the
        message names the folder, that process's id and its command), ``out`` is a file,
        or ``out`` is the ``plan_dir`` of ``deploy``/``simulate run`` or inside it, or
        inside the output folder of another command's city run, or holds another command's
        report.html (a command writing one).
    """

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        out = kwargs["out"]
        if not isinstance(out, str | os.PathLike):
            raise TypeError(f"{command.__name__}: out must be a path, got {out!r}")
        lang = str(kwargs.get("lang", "en"))
        name = COMMAND_NAMES.get(command.__name__, command.__name__)
        try:
            plan_dir = kwargs.get("plan_dir")
            if name in ("deploy", "simulate run") and isinstance(plan_dir, str | os.PathLike):
                refuse_out_in_plan_dir(Path(out), Path(plan_dir), name)  # before any write
            if name in ("plan", "deploy", "simulate run"):
                refuse_out_in_city_run(Path(out), name)
            refuse_out_with_other_report(Path(out), name)  # plan, deploy, kpi, ...
            lock = OutputLock(Path(out)).acquire()
        except (ValidationError, OSError) as exc:
            raise fail(exc, lang) from exc
        warn_other_output(Path(out), name, lang)
        done = False
        previous = _exit_on_sigterm()
        try:
            result = command(*args, **kwargs)
            done = True
            return result
        except BaseException as exc:
            done = _exit_code(exc) == 0
            raise
        finally:
            lock.release()
            if not done:  # refused or failed: leave no empty folder this run created
                lock.remove_made_if_empty()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return run
