"""A small medical staff for the privileges and FPPE tests: the office, the chair of Medicine, the
credentials committee, a Medicine catalogue and two practitioners (one with an account, to proctor)."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone

from andon.medstaff import services as medstaff
from andon.platform.roles import Role


@dataclass
class Staff:
    office: object
    chair: object
    committee: object
    core: object
    lines: object
    newcomer: object
    proctor: object


def make_staff(make_user, hospital) -> Staff:
    office = make_user(Role.MEDICAL_STAFF_OFFICE, "")
    chair = make_user(Role.DEPARTMENT_CHAIR, "rgh/medicine")
    committee = make_user(Role.CREDENTIALS_COMMITTEE, "")
    medicine = hospital.unit("rgh/medicine")
    core = medstaff.create_privilege(office, medicine, name="Core internal medicine", fppe_methods=["chart_review"],
                                     fppe_cases=10)
    lines = medstaff.create_privilege(office, medicine, name="Central line insertion", kind="special",
                                      training="Simulation course", fppe_methods=["proctoring", "direct_observation"],
                                      fppe_cases=5)
    today = timezone.localdate()
    newcomer = medstaff.create_practitioner(office, department=medicine, family_name="Nwosu", given_name="Amara",
                                            degree="MD", appointed_on=today - timedelta(days=20))
    proctor_account = make_user(Role.PRACTITIONER, "rgh/medicine")
    proctor = medstaff.create_practitioner(office, department=medicine, family_name="Demir", given_name="Yusuf",
                                           degree="MD", appointed_on=today - timedelta(days=900),
                                           account=proctor_account)
    return Staff(office, chair, committee, core, lines, newcomer, proctor)


def days_ago(days: int) -> date:
    return timezone.localdate() - timedelta(days=days)


def through_the_board(staff: Staff, found, *, start: int = 30):
    """Takes a request through its four steps, a week apart, ending `start - 21` days ago."""
    steps = [("chair", staff.chair, "recommend"), ("credentials", staff.committee, "recommend"),
             ("mec", staff.office, "recommend"), ("board", staff.office, "approve")]
    for offset, (step, who, outcome) in enumerate(steps):
        medstaff.record_step(who, found, step, outcome=outcome, met_on=days_ago(start - 7 * offset),
                             note="Criteria met.")
    found.refresh_from_db()
    return found


def granted(staff: Staff, practitioner=None, privilege=None):
    """A request made 40 days ago and taken through the board: (request, grant, fppe)."""
    practitioner = practitioner or staff.newcomer
    found = medstaff.request_privileges(staff.office, practitioner, [privilege or staff.lines])
    found.requested_on = days_ago(40)
    found.save(update_fields=["requested_on"])
    through_the_board(staff, found)
    grant = practitioner.granted_privileges.get(request=found)
    return found, grant, grant.fppes.get()
