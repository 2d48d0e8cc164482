"""(Being written.) Records: committee"""

__all__: list[str] = []
