"""Form bodies (multipart uploads, the login form) reject unknown fields, as JSON bodies do.

FastAPI ignores form fields a route does not declare, so ``status=closed`` or
``grid_code=…`` sent along with a public tip-off would silently vanish — harmless today,
a mass-assignment hole the day someone adds the field. :func:`reject_unknown_form_fields`
is an application-wide dependency (``create_app`` installs it): for a form request it
compares the fields sent with the ones the matched route declares (its own ``Form()`` and
``File()`` parameters and those of its dependencies, form models expanded) and answers
422 naming the first unknown field.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request, params
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _form_fields(dependant: Dependant) -> Iterator[str]:
    for param in dependant.body_params:
        if not isinstance(param.field_info, params.Form):  # File is a Form too
            continue
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            yield from (f.alias or name for name, f in model.model_fields.items())
        else:
            yield param.alias
    for sub in dependant.dependencies:
        yield from _form_fields(sub)


def declared_form_fields(route) -> set[str]:
    """The form field names a route accepts (its ``Form()``/``File()`` parameters and its
    dependencies', form models expanded); empty for routes without a form body."""
    dependant = getattr(route, "dependant", None)
    return set(_form_fields(dependant)) if dependant is not None else set()


async def reject_unknown_form_fields(request: Request) -> None:
    """422 for a form field the route does not declare. FastAPI has parsed the form
    already (this reads its cached copy); routes without a form body are left alone."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type not in FORM_TYPES:
        return
    allowed = declared_form_fields(request.scope.get("route"))
    if not allowed:
        return
    form = await request.form()
    unknown = [name for name in dict.fromkeys(form.keys()) if name not in allowed]
    if unknown:
        raise RequestValidationError([{"type": "extra_forbidden", "loc": ("body", name),
                                       "msg": "Extra inputs are not permitted"} for name in unknown])
