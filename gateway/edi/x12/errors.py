"""Positioned X12 problems: one record type for every level, carrying the standard X12 code.

The code is the one the matching acknowledgment reports: TA105 for the interchange, AK905/IK905
for the group, AK502/IK502 for a transaction set, AK304/IK304 for a segment and AK403/IK403 for
an element.
"""

from dataclasses import dataclass

INTERCHANGE, GROUP, SET, SEGMENT, ELEMENT = "interchange", "group", "set", "segment", "element"

# TA105 interchange note codes
TA1_NO_ERROR = "000"
TA1_CONTROL_MISMATCH = "001"
TA1_SENDER_QUALIFIER = "005"
TA1_SENDER_ID = "006"
TA1_RECEIVER_QUALIFIER = "007"
TA1_RECEIVER_ID = "008"
TA1_AUTH_QUALIFIER = "010"
TA1_AUTH_VALUE = "011"
TA1_SECURITY_QUALIFIER = "012"
TA1_SECURITY_VALUE = "013"
TA1_DATE = "014"
TA1_TIME = "015"
TA1_STANDARDS_ID = "016"
TA1_VERSION = "017"
TA1_CONTROL_NUMBER = "018"
TA1_ACK_REQUESTED = "019"
TA1_TEST_INDICATOR = "020"
TA1_GROUP_COUNT = "021"
TA1_CONTROL_STRUCTURE = "022"
TA1_END_OF_FILE = "023"
TA1_CONTENT = "024"
TA1_ELEMENT_SEPARATOR = "026"
TA1_COMPONENT_SEPARATOR = "027"

# AK905 functional group error codes
GROUP_NOT_SUPPORTED = "1"
GROUP_VERSION = "2"
GROUP_TRAILER_MISSING = "3"
GROUP_CONTROL_MISMATCH = "4"
GROUP_SET_COUNT = "5"
GROUP_CONTROL_SYNTAX = "6"

# AK502 transaction set error codes
SET_NOT_SUPPORTED = "1"
SET_TRAILER_MISSING = "2"
SET_CONTROL_MISMATCH = "3"
SET_SEGMENT_COUNT = "4"
SET_SEGMENTS_IN_ERROR = "5"
SET_ID_INVALID = "6"
SET_CONTROL_INVALID = "7"
SET_CONTROL_NOT_UNIQUE = "23"

# AK304 segment syntax error codes
SEG_UNRECOGNIZED = "1"
SEG_UNEXPECTED = "2"
SEG_MANDATORY_MISSING = "3"
SEG_LOOP_OVER_MAX = "4"
SEG_OVER_MAX_USE = "5"
SEG_NOT_IN_SET = "6"
SEG_OUT_OF_SEQUENCE = "7"
SEG_ELEMENT_ERRORS = "8"
SEG_NOT_USED = "I4"  # 999 only: implementation "not used" segment present

# AK403 data element error codes
ELE_MANDATORY_MISSING = "1"
ELE_CONDITIONAL_MISSING = "2"
ELE_TOO_MANY = "3"
ELE_TOO_SHORT = "4"
ELE_TOO_LONG = "5"
ELE_BAD_CHARACTER = "6"
ELE_BAD_CODE = "7"
ELE_BAD_DATE = "8"
ELE_BAD_TIME = "9"
ELE_EXCLUSION = "10"
ELE_TOO_MANY_REPEATS = "12"
ELE_TOO_MANY_COMPONENTS = "13"
ELE_NOT_USED = "I10"  # 999 only: implementation "not used" element present


@dataclass(slots=True)
class Problem:
    """One thing wrong with the input, where it is and its X12 code."""

    level: str
    code: str
    message: str
    segment_id: str = ""
    segment_no: int = 0  # position in the transaction set (ST = 1); 0 outside a set
    interchange_segment_no: int = 0  # position in the interchange (ISA = 1)
    offset: int = -1  # byte offset of the segment in the file
    element: int = 0  # 1-based element position; 0 for segment-level problems
    component: int = 0
    element_ref: str = ""  # data element reference number, e.g. "353"
    loop_id: str = ""
    value: str = ""  # the offending value, echoed as AK404/IK404

    def __str__(self) -> str:
        where = [f"{self.level} error {self.code}"]
        if self.segment_id:
            where.append(f"segment {self.segment_id}")
        if self.interchange_segment_no:
            where.append(f"#{self.interchange_segment_no} in interchange")
        if self.segment_no:
            where.append(f"#{self.segment_no} in set")
        if self.element:
            where.append(f"element {self.element:02d}")
            if self.component:
                where.append(f"component {self.component}")
        if self.offset >= 0:
            where.append(f"byte {self.offset}")
        return f"{', '.join(where)}: {self.message}"


class X12Error(ValueError):
    """Input that cannot be read on: carries the positioned Problem."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


# What each acknowledgment code means, as the X12 code lists word it (997 and 999).
SEGMENT_MEANINGS = {
    "1": "unrecognized segment ID",
    "2": "unexpected segment",
    "3": "required segment missing",
    "4": "loop occurs over maximum times",
    "5": "segment exceeds maximum use",
    "6": "segment not in defined transaction set",
    "7": "segment not in proper sequence",
    "8": "segment has data element errors",
    "I4": "implementation \"not used\" segment present",
    "I6": "implementation dependent segment missing",
    "I7": "implementation loop occurs under minimum times",
    "I8": "implementation segment below minimum use",
    "I9": "implementation dependent \"not used\" segment present",
}
ELEMENT_MEANINGS = {
    "1": "required data element missing",
    "2": "conditional required data element missing",
    "3": "too many data elements",
    "4": "data element too short",
    "5": "data element too long",
    "6": "invalid character in data element",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated",
    "12": "too many repetitions",
    "13": "too many components",
    "I6": "code value not used in implementation",
    "I9": "implementation dependent data element missing",
    "I10": "implementation \"not used\" data element present",
    "I11": "implementation too few repetitions",
    "I12": "implementation pattern match failure",
    "I13": "implementation dependent \"not used\" data element present",
}
SET_MEANINGS = {
    "1": "transaction set not supported",
    "2": "transaction set trailer missing",
    "3": "transaction set control number in header and trailer do not match",
    "4": "number of included segments does not match actual count",
    "5": "one or more segments in error",
    "6": "missing or invalid transaction set identifier",
    "7": "missing or invalid transaction set control number",
    "8": "authentication key name unknown",
    "9": "encryption key name unknown",
    "10": "requested service (authentication or encryption) not available",
    "11": "unknown security recipient",
    "12": "incorrect message length (encryption only)",
    "13": "message authentication code failed",
    "15": "unknown security originator",
    "16": "syntax error in decrypted text",
    "17": "security not supported",
    "18": "transaction set not in functional group",
    "19": "invalid transaction set implementation convention reference",
    "23": "transaction set control number not unique within the functional group",
    "24": "S3E security end segment missing for S3S security start segment",
    "25": "S3S security start segment missing for S3E security end segment",
    "26": "S4E security end segment missing for S4S security start segment",
    "27": "S4S security start segment missing for S4E security end segment",
    "I5": "implementation one or more segments in error",
    "I6": "implementation convention not supported",
}
GROUP_MEANINGS = {
    "1": "functional group not supported",
    "2": "functional group version not supported",
    "3": "functional group trailer missing",
    "4": "group control number in the functional group header and trailer do not agree",
    "5": "number of included transaction sets does not match actual count",
    "6": "group control number violates syntax",
    "10": "authentication key name unknown",
    "11": "encryption key name unknown",
    "12": "requested service (authentication or encryption) not available",
    "13": "unknown security recipient",
    "14": "unknown security originator",
    "15": "syntax error in decrypted text",
    "16": "security not supported",
    "17": "incorrect message length (encryption only)",
    "18": "message authentication code failed",
    "19": "functional group control number not unique within interchange",
    "23": "S3E security end segment missing for S3S security start segment",
    "24": "S3S security start segment missing for S3E security end segment",
    "25": "S4E security end segment missing for S4S security start segment",
    "26": "S4S security start segment missing for S4E security end segment",
}
