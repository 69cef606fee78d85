"""The simulated plant's fixed layout: zones, test programs, stations, inspectors, parts.

The layout is the same for every seed (one plant, many periods), drawn once from
a constant seed; only the number of optional test programs grows with
``rows_per_vehicle``, and the programs of a smaller layout are a prefix of those
of a larger one. Everything is held as numpy arrays indexed by program or
sub-result so the simulation can gather from it column-wise.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

from roadtest.contracts.partner import (
    ENGINES,
    POST_ROAD_TEST_NAME_PREFIX,
    PRE_ROAD_TEST_HALLES,
    ZONE_CHAIN,
)

LAYOUT_SEED = 20_240_101

ZONE_CODES: tuple[str, ...] = tuple(code for code, _ in ZONE_CHAIN)
ZONE_HALLES: tuple[str, ...] = tuple(halle for _, halle in ZONE_CHAIN)
SEGMENT_MINUTES = np.array([60.0, 50.0, 45.0, 70.0, 40.0, 50.0, 35.0, 25.0, 45.0])
"""Nominal line-time minutes from entering each zone of ZONE_CHAIN to entering the next."""
ROD_ZONE = ZONE_CODES.index("M710")
AGUA_ZONE = ZONE_CODES.index("M720")
ZP8_ZONE = ZONE_CODES.index("M800")
LAST_PRE_ROAD_ZONE = ROD_ZONE - 1

DEFECT_HALLE_ZONE: dict[str, int] = {
    "ZP5": 0,
    "ZP5A": 1,
    "ZP61": 2,
    "ZP6": 3,
    "ZP62": 3,
    "CAB": 4,
    "ZP7": 5,
    "ROD": ROD_ZONE,
    "AGUA": AGUA_ZONE,
    "ZP8": ZP8_ZONE,
    "ZP82": ZP8_ZONE,
    "ZP8R": ZP8_ZONE,
}
"""Zone (index into ZONE_CHAIN) during whose passage a defect of each HALLE is logged."""
PRE_ROAD_HALLE_SHARES = (0.15, 0.10, 0.15, 0.15, 0.10, 0.10, 0.25)
"""How pre-road-test defects spread over the first seven HALLEs above (ZP5 … ZP7)."""

MODELS = ("AM10", "AM12", "BM20")
MODEL_SHARES = (0.86, 0.10, 0.04)
COLOURS = ("2R2R", "0Q0Q", "A1A1", "K8K8", "2T2T", "P3P3", "L5L5", "Y9Y9", "D7D7", "C2C2", "R4R4")
COLOUR_SHARES = (0.22, 0.18, 0.14, 0.10, 0.08, 0.07, 0.06, 0.05, 0.04, 0.03, 0.03)
ENGINE_SHARES = (0.40, 0.25, 0.15, 0.12, 0.08)
TRIM_SHARES = (0.30, 0.45, 0.25)
"""Trim levels 0 (base) to 2 (full); richer trims run more test programs."""

UNIT_DECIMALS: dict[str, int] = {
    "Nm": 2,
    "Deg": 1,
    "Grad": 1,
    "mm": 2,
    "%": 1,
    "V": 2,
    "kg": 3,
    "min": 2,
    "Clicks": 0,
    "": 0,
}

GROUP_FRONT, GROUP_REAR, GROUP_DOORS, GROUP_CENTRAL = 5, 1, 4, 2
GROUP_GENERAL, GROUP_UNDERBODY, GROUP_DOCS = 133, 137, 140
GROUP_BACKOFFICE, GROUP_ELECTRICAL = 9830945, 9830946

PARTS: tuple[tuple[str, int], ...] = (
    ("PARALAMA DIANTEIRO", GROUP_FRONT),
    ("PARA-CHOQUE DIANTEIRO", GROUP_FRONT),
    ("CAPÔ", GROUP_FRONT),
    ("FAROL", GROUP_FRONT),
    ("GRADE DIANTEIRA", GROUP_FRONT),
    ("SUSPENSÃO DIANTEIRA", GROUP_FRONT),
    ("RADIADOR", GROUP_FRONT),
    ("PARA-CHOQUE TRASEIRO", GROUP_REAR),
    ("TAMPA TRASEIRA", GROUP_REAR),
    ("LANTERNA TRASEIRA", GROUP_REAR),
    ("SUSPENSÃO TRASEIRA", GROUP_REAR),
    ("ESCAPAMENTO", GROUP_REAR),
    ("PORTA DIANTEIRA ESQ", GROUP_DOORS),
    ("PORTA DIANTEIRA DIR", GROUP_DOORS),
    ("PORTA TRASEIRA ESQ", GROUP_DOORS),
    ("PORTA TRASEIRA DIR", GROUP_DOORS),
    ("MAÇANETA", GROUP_DOORS),
    ("BORRACHA DE VEDAÇÃO", GROUP_DOORS),
    ("VIDRO DA PORTA", GROUP_DOORS),
    ("PAINEL DE INSTRUMENTOS", GROUP_CENTRAL),
    ("CONSOLE CENTRAL", GROUP_CENTRAL),
    ("BANCO DIANTEIRO", GROUP_CENTRAL),
    ("BANCO TRASEIRO", GROUP_CENTRAL),
    ("TAPETE", GROUP_CENTRAL),
    ("CINTO DE SEGURANÇA", GROUP_CENTRAL),
    ("FORRO DO TETO", GROUP_CENTRAL),
    ("CARROCERIA", GROUP_GENERAL),
    ("PINTURA", GROUP_GENERAL),
    ("ACABAMENTO", GROUP_GENERAL),
    ("ETIQUETA", GROUP_GENERAL),
    ("ASSOALHO", GROUP_UNDERBODY),
    ("TANQUE DE COMBUSTÍVEL", GROUP_UNDERBODY),
    ("MANGUEIRA DE FREIO", GROUP_UNDERBODY),
    ("PROTETOR DO CÁRTER", GROUP_UNDERBODY),
    ("SUBCHASSI", GROUP_UNDERBODY),
    ("MANUAL DO PROPRIETÁRIO", GROUP_DOCS),
    ("PLAQUETA VIN", GROUP_DOCS),
    ("CERTIFICADO", GROUP_DOCS),
    ("TESTE DE DIAGNOSE", GROUP_BACKOFFICE),
    ("REGISTRO DE TESTE", GROUP_BACKOFFICE),
    ("CHICOTE ELÉTRICO", GROUP_ELECTRICAL),
    ("CONECTOR", GROUP_ELECTRICAL),
    ("BATERIA", GROUP_ELECTRICAL),
    ("MÓDULO ECU", GROUP_ELECTRICAL),
    ("ALTO-FALANTE", GROUP_ELECTRICAL),
    ("LUZ DE ADVERTÊNCIA", GROUP_ELECTRICAL),
)
"""Part names of FALHA texts and the failure group a defect on that part belongs to."""
PART_GROUPS = np.array([group for _, group in PARTS], dtype=np.int64)

LINE_DEFECTS: tuple[tuple[str, bool], ...] = (
    ("AMASSADO", False),
    ("RISCADO", False),
    ("MANCHADO", False),
    ("DESALINHADO", False),
    ("FOLGA EXCESSIVA", False),
    ("SOLTO", True),
    ("MAL FIXADO", True),
    ("FALTANTE", True),
    ("TRINCADO", True),
    ("NÃO FUNCIONA", True),
)
"""Defect kinds inspectors log on the line, and whether each is severe (fault left in the car)."""
LINE_SEVERE_SHARE = 0.2
ROAD_TEST_DEFECTS = ("RUÍDO", "VIBRAÇÃO", "NÃO FUNCIONA", "VAZAMENTO", "LUZ ACESA", "FOLGA")
WATER_TEST_DEFECTS = ("INFILTRAÇÃO", "VAZAMENTO", "UMIDADE")
WATER_TEST_GROUPS = (GROUP_DOORS, GROUP_REAR, GROUP_GENERAL, GROUP_CENTRAL)
POSITION_WEIGHTS = (0.35, 0.2, 0.12, 0.09, 0.07, 0.06, 0.05, 0.03, 0.03)
"""FALHA texts carry a position number 01..09 (``PARALAMA DIANTEIRO 01. AMASSADO``)."""

STATIONS_PER_HALLE = 5
INSPECTORS_PER_HALLE: dict[str, int] = {
    **dict.fromkeys(PRE_ROAD_TEST_HALLES, 25),
    "ROD": 16,
    "AGUA": 10,
    "ZP8": 30,
    "ZP82": 8,
    "ZP8R": 12,
}
SENSORS_PER_SEGMENT = 12
"""Rail sensors between two main zones (9 x 12 + 9 chain codes: over a hundred codes)."""


@dataclass(frozen=True)
class SubResult:
    """One measured value of a test program (a VALUE_ID)."""

    unit: str
    nominal: float
    half_width: float
    sd: float
    functional: bool = False
    torque_key: bool = False
    voltage_key: bool = False


@dataclass(frozen=True)
class Program:
    """A test program (NAME) run at one zone, with its sub-results."""

    name: str
    id_group: int
    zone: int
    offset: float
    location: int
    subs: tuple[SubResult, ...]
    min_trim: int = 0
    engines: tuple[str, ...] = ENGINES
    p_apply: float = 1.0
    section: bool = False


@dataclass(frozen=True)
class ProgramTable:
    """All programs and their sub-results as parallel arrays (programs then subs)."""

    names: tuple[str, ...]
    id_group: NDArray[np.int64]
    zone: NDArray[np.int64]
    offset: NDArray[np.float64]
    location: NDArray[np.int64]
    min_trim: NDArray[np.int64]
    engine_ok: NDArray[np.bool_]
    p_apply: NDArray[np.float64]
    section: NDArray[np.bool_]
    sub_start: NDArray[np.int64]
    n_sub: NDArray[np.int64]
    sub_program: NDArray[np.int64]
    sub_value_id: tuple[str, ...]
    sub_unit: tuple[str, ...]
    sub_nominal: NDArray[np.float64]
    sub_lo: NDArray[np.float64]
    sub_hi: NDArray[np.float64]
    sub_sd: NDArray[np.float64]
    sub_decimals: NDArray[np.int64]
    sub_functional: NDArray[np.bool_]
    sub_torque_key: NDArray[np.bool_]
    sub_voltage_key: NDArray[np.bool_]

    def expected_rows(self) -> float:
        """Mean first-pass rows per vehicle over the trim and engine mix."""
        trim_reach = np.cumsum(TRIM_SHARES[::-1])[::-1][self.min_trim]
        engine_reach = self.engine_ok @ np.asarray(ENGINE_SHARES)
        reach = np.where(self.section, 0.0, self.p_apply * trim_reach * engine_reach)
        return float(np.sum(reach * self.n_sub))


@dataclass(frozen=True)
class PlantLayout:
    """Everything about the plant that does not change from one period to the next."""

    programs: ProgramTable
    stations: dict[str, tuple[str, ...]]
    inspectors: dict[str, tuple[str, ...]]
    sensor_codes: tuple[str, ...]
    sensor_segment: NDArray[np.int64]
    sensor_position: NDArray[np.float64]
    sensor_pass_rate: NDArray[np.float64]


def torque(nominal: float, sd: float, *, key: bool = False) -> SubResult:
    """A bolt's torque, spec window +-3.2 sd."""
    return SubResult("Nm", nominal, 3.2 * sd, sd, torque_key=key)


def angle(nominal: float, unit: str = "Deg") -> SubResult:
    """A bolt's rotation angle after the torque was reached."""
    return SubResult(unit, nominal, 15.0, 4.5)


def mandatory_programs() -> tuple[Program, ...]:
    """Programs every vehicle runs; the mechanisms read some of them."""
    bolts = 4
    return (
        Program(
            "012001",
            2,
            2,
            0.3,
            GROUP_FRONT,
            tuple(torque(120.0, 3.1, key=True) for _ in range(bolts))
            + tuple(angle(45.0) for _ in range(bolts)),
        ),
        Program(
            "012002",
            2,
            3,
            0.5,
            GROUP_CENTRAL,
            tuple(torque(45.0, 1.55, key=True) for _ in range(bolts))
            + tuple(angle(40.0) for _ in range(bolts)),
        ),
        Program(
            "013005",
            2,
            2,
            0.6,
            GROUP_REAR,
            tuple(torque(95.0, 3.1, key=True) for _ in range(bolts))
            + tuple(angle(35.0, "Grad") for _ in range(bolts)),
        ),
        Program(
            "042000",
            1,
            3,
            0.2,
            GROUP_UNDERBODY,
            (SubResult("kg", 0.85, 0.05, 0.015), SubResult("min", 1.5, 0.5, 0.14)),
        ),
        Program("045300", 1, 3, 0.7, GROUP_FRONT, (SubResult("%", 50.0, 5.0, 1.5),)),
        Program("042100", 1, 5, 0.3, GROUP_FRONT, (SubResult("mm", 2.0, 1.0, 0.3),)),
        Program(
            "051000",
            1,
            5,
            0.6,
            GROUP_CENTRAL,
            (SubResult("mm", 55.0, 10.0, 3.0), SubResult("Clicks", 6.0, 2.0, 0.55)),
        ),
        Program(
            "730100",
            718,
            4,
            0.4,
            GROUP_ELECTRICAL,
            (SubResult("V", 12.6, 0.6, 0.23, voltage_key=True),),
        ),
        Program(
            "720010",
            718,
            5,
            0.5,
            GROUP_ELECTRICAL,
            tuple(SubResult("", 0.0, 0.0, 0.0, functional=True) for _ in range(3)),
        ),
    )


def section_programs() -> tuple[Program, ...]:
    """Checks recorded at ZP8, after the road test; never a feature."""
    prefix = POST_ROAD_TEST_NAME_PREFIX
    return (
        Program(
            f"{prefix}_ALINHAMENTO",
            1,
            ZP8_ZONE,
            0.2,
            GROUP_FRONT,
            (SubResult("Deg", 0.0, 0.5, 0.12), SubResult("Deg", 0.0, 0.5, 0.12)),
            section=True,
        ),
        Program(
            f"{prefix}_FAROL",
            1,
            ZP8_ZONE,
            0.4,
            GROUP_FRONT,
            (SubResult("mm", 0.0, 15.0, 3.5), SubResult("mm", 0.0, 15.0, 3.5)),
            section=True,
        ),
        Program(
            f"{prefix}_DIAGNOSE",
            718,
            ZP8_ZONE,
            0.6,
            GROUP_ELECTRICAL,
            tuple(SubResult("", 0.0, 0.0, 0.0, functional=True) for _ in range(2)),
            section=True,
        ),
    )


FILLER_UNITS: dict[int, tuple[str, ...]] = {
    1: ("kg", "%", "min", "mm", "Deg"),
    718: ("V", "", "", "min"),
}
FILLER_LOCATIONS: dict[int, tuple[int, ...]] = {
    2: (GROUP_FRONT, GROUP_CENTRAL, GROUP_REAR, GROUP_DOORS),
    1: (GROUP_UNDERBODY, GROUP_GENERAL, GROUP_FRONT),
    718: (GROUP_ELECTRICAL,),
}


def filler_sub(unit: str, rng: np.random.Generator) -> SubResult:
    """A plausible measurement of ``unit`` with a spec window of 3.0–3.6 sd."""
    if unit == "":
        return SubResult("", 0.0, 0.0, 0.0, functional=True)
    ranges = {
        "Nm": (8.0, 180.0, 0.03),
        "Deg": (20.0, 90.0, 0.06),
        "mm": (1.0, 60.0, 0.04),
        "%": (30.0, 80.0, 0.02),
        "kg": (0.3, 6.0, 0.015),
        "min": (0.5, 5.0, 0.05),
        "V": (4.5, 13.5, 0.015),
    }
    low, high, rel_sd = ranges[unit]
    decimals = UNIT_DECIMALS[unit]
    nominal = round(float(rng.uniform(low, high)), decimals)
    sd = max(nominal * rel_sd, 10.0**-decimals * 2)
    return SubResult(unit, nominal, float(rng.uniform(3.0, 3.6)) * sd, sd)


def filler_program(used: set[str], rng: np.random.Generator) -> Program:
    """One optional program, drawn so the catalogue looks like a real plant's."""
    id_group = int(rng.choice([2, 1, 718], p=[0.5, 0.25, 0.25]))
    prefix = {2: ("01", "02"), 1: ("04", "05"), 718: ("72", "73")}[id_group]
    name = ""
    while not name or name in used:
        name = str(rng.choice(prefix)) + f"{int(rng.integers(0, 10_000)):04d}"
    used.add(name)
    if id_group == 2:
        bolts = int(rng.integers(1, 7))
        subs: tuple[SubResult, ...] = tuple(filler_sub("Nm", rng) for _ in range(bolts))
        if rng.random() < 0.5:
            subs += tuple(angle(float(rng.uniform(25, 70))) for _ in range(bolts))
    else:
        units = FILLER_UNITS[id_group]
        subs = tuple(filler_sub(str(rng.choice(units)), rng) for _ in range(rng.integers(1, 5)))
    engines = ENGINES
    if rng.random() < 0.15:
        engines = tuple(rng.choice(ENGINES, size=int(rng.integers(1, 3)), replace=False))
    return Program(
        name=name,
        id_group=id_group,
        zone=int(rng.integers(0, LAST_PRE_ROAD_ZONE + 1)),
        offset=float(rng.uniform(0.05, 0.85)),
        location=int(rng.choice(FILLER_LOCATIONS[id_group])),
        subs=subs,
        min_trim=int(rng.choice([0, 1, 2], p=[0.55, 0.27, 0.18])),
        engines=engines,
        p_apply=float(rng.uniform(0.75, 1.0)),
    )


def to_program_table(programs: tuple[Program, ...]) -> ProgramTable:
    """Parallel arrays of ``programs`` for column-wise gathering."""
    subs = [sub for program in programs for sub in program.subs]
    n_sub = np.array([len(program.subs) for program in programs], dtype=np.int64)
    units = tuple(sub.unit for sub in subs)
    return ProgramTable(
        names=tuple(program.name for program in programs),
        id_group=np.array([p.id_group for p in programs], dtype=np.int64),
        zone=np.array([p.zone for p in programs], dtype=np.int64),
        offset=np.array([p.offset for p in programs]),
        location=np.array([p.location for p in programs], dtype=np.int64),
        min_trim=np.array([p.min_trim for p in programs], dtype=np.int64),
        engine_ok=np.array([[e in p.engines for e in ENGINES] for p in programs], dtype=bool),
        p_apply=np.array([p.p_apply for p in programs]),
        section=np.array([p.section for p in programs], dtype=bool),
        sub_start=np.concatenate(([0], np.cumsum(n_sub)[:-1])).astype(np.int64),
        n_sub=n_sub,
        sub_program=np.repeat(np.arange(len(programs), dtype=np.int64), n_sub),
        sub_value_id=tuple(str(i + 1) for p in programs for i in range(len(p.subs))),
        sub_unit=units,
        sub_nominal=np.array([s.nominal for s in subs]),
        sub_lo=np.array([s.nominal - s.half_width for s in subs]),
        sub_hi=np.array([s.nominal + s.half_width for s in subs]),
        sub_sd=np.array([s.sd for s in subs]),
        sub_decimals=np.array([UNIT_DECIMALS[u] for u in units], dtype=np.int64),
        sub_functional=np.array([s.functional for s in subs], dtype=bool),
        sub_torque_key=np.array([s.torque_key for s in subs], dtype=bool),
        sub_voltage_key=np.array([s.voltage_key for s in subs], dtype=bool),
    )


SECTION_ROWS = 6
RETEST_ROWS_ALLOWANCE = 2.0
"""Rows per vehicle that come on top of the first-pass programs (ZP8 checks, retests)."""


def build_programs(rows_per_vehicle: int) -> ProgramTable:
    """Mandatory programs, then optional ones until the mean row count reaches the target."""
    rng = np.random.default_rng(LAYOUT_SEED)
    programs = list(mandatory_programs())
    used = {program.name for program in programs}
    target = rows_per_vehicle - SECTION_ROWS - RETEST_ROWS_ALLOWANCE
    expected = to_program_table(tuple(programs)).expected_rows()
    while expected < target:
        program = filler_program(used, rng)
        programs.append(program)
        expected += to_program_table((program,)).expected_rows()
    return to_program_table((*programs, *section_programs()))


def unique_codes(count: int, pattern: str, rng: np.random.Generator, taken: set[str]) -> list[str]:
    """``count`` new codes from ``pattern``: @ is a random letter, # a random digit."""
    codes: list[str] = []
    while len(codes) < count:
        code = "".join(draw_character(ch, rng) for ch in pattern)
        if code not in taken:
            taken.add(code)
            codes.append(code)
    return codes


def draw_character(placeholder: str, rng: np.random.Generator) -> str:
    """A random letter for @, a random digit for #, anything else as written."""
    if placeholder == "@":
        return string.ascii_uppercase[int(rng.integers(0, 26))]
    if placeholder == "#":
        return str(int(rng.integers(0, 10)))
    return placeholder


@cache
def build_layout(rows_per_vehicle: int) -> PlantLayout:
    """The plant's layout for a target row density (cached: it is pure and reused)."""
    rng = np.random.default_rng(LAYOUT_SEED + 1)
    taken: set[str] = set(ZONE_CODES)
    stations = {
        halle: tuple(unique_codes(STATIONS_PER_HALLE, "HC@@@###", rng, taken))
        for halle in DEFECT_HALLE_ZONE
    }
    inspectors = {
        halle: tuple(unique_codes(count, "U#####", rng, taken))
        for halle, count in INSPECTORS_PER_HALLE.items()
    }
    codes: list[str] = []
    segments: list[int] = []
    positions: list[float] = []
    rates: list[float] = []
    for segment, code in enumerate(ZONE_CODES):
        codes += unique_codes(SENSORS_PER_SEGMENT, code[0] + "###", rng, taken)
        segments += [segment] * SENSORS_PER_SEGMENT
        positions += sorted(rng.uniform(0.05, 0.95, SENSORS_PER_SEGMENT).tolist())
        common = rng.random(SENSORS_PER_SEGMENT) < 0.3
        rates += np.where(
            common,
            rng.uniform(0.3, 0.7, SENSORS_PER_SEGMENT),
            rng.uniform(0.02, 0.12, SENSORS_PER_SEGMENT),
        ).tolist()
    return PlantLayout(
        programs=build_programs(rows_per_vehicle),
        stations=stations,
        inspectors=inspectors,
        sensor_codes=tuple(codes),
        sensor_segment=np.array(segments, dtype=np.int64),
        sensor_position=np.array(positions),
        sensor_pass_rate=np.array(rates),
    )
