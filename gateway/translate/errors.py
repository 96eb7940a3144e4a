"""Positioned translation errors: which transaction set, segment, element and document field."""

from gateway.edi.x12.reader import Segment


class TranslationError(ValueError):
    """A transaction set that cannot become a valid document: a value that does not convert, a
    required field missing, a field its schema refuses."""

    def __init__(self, set_id: str, control_number: str, message: str,
                 segment: Segment | None = None, element: int = 0, component: int = 0,
                 field: str = "", value: str = ""):
        self.set_id = set_id
        self.control_number = control_number
        self.segment_id = segment.elements[0] if segment is not None else ""
        self.segment_no = segment.set_number if segment is not None else 0
        self.interchange_segment_no = segment.number if segment is not None else 0
        self.offset = segment.offset if segment is not None else -1
        self.element = element
        self.component = component
        self.field = field
        self.value = value
        self.reason = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [f"transaction set {self.set_id} {self.control_number}"]
        if self.segment_id:
            where.append(f"segment {self.segment_id} #{self.segment_no} in set "
                         f"(#{self.interchange_segment_no} in interchange)")
        if self.element:
            where.append(f"element {self.segment_id}{self.element:02d}"
                         + (f"-{self.component}" if self.component else ""))
        if self.field:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.reason}"


class RenderError(ValueError):
    """A document that cannot be written as X12: names the field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field or 'document'}: {message}")
        self.field = field
