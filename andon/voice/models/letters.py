"""(Being written.) Records: letters"""

__all__: list[str] = []
