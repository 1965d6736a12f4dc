"""The JSON API's parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).

REST framework's own turns a body that is not JSON into a 400, except one nested past
Python's recursion limit (`[[[[...`), whose RecursionError it lets through as a 500.
"""

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
