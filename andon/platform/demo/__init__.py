"""The demo hospital: made-up organisation and people with known passwords.

Its accounts carry `is_demo`, and `auth.may_sign_in` refuses them unless ANDON_DEMO is on, so
they cannot be used on a real installation even if loaded there by mistake.
"""

import functools
from pathlib import Path

from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth.hashers import make_password
from django.db import transaction
from tqdm import tqdm

from andon.platform import content, services
from andon.platform.models import User
from andon.platform.notifications import without_email
from andon.platform.roles import MFA_REQUIRED_BY_DEFAULT, Role
from andon.platform.security import mfa_enabled

DEMO_PASSWORD = "andon-demo-2026"
# The demo administrator signs in with a second factor; this made-up secret is printed by
# `make demo` so that any authenticator app (or `oathtool --totp -b`) can produce codes.
DEMO_ADMIN_TOTP_SECRET = "MFXGI33OEBSGK3LPEBQWI3LJNYQDEZTB"
ORGANISATION_FILE = Path(__file__).with_name("organisation.yaml")
# The repository's shipped content (taxonomies, and later measures and views).
SHIPPED_CONTENT = Path(__file__).resolve().parents[3] / "content"

# username, first name, last name, job title, [(role, scope)], admin site
PEOPLE = [
    ("nurse.ana", "Ana", "Alvarez", "Registered nurse", [(Role.STAFF_REPORTER, "rgh/4w")], False),
    ("nurse.ben", "Ben", "Okafor", "Critical care nurse", [(Role.STAFF_REPORTER, "rgh/icu")], False),
    ("nurse.chloe", "Chloe", "Martin", "Staff nurse", [(Role.STAFF_REPORTER, "lch/2a")], False),
    ("pharm.dev", "Dev", "Patel", "Clinical pharmacist", [(Role.STAFF_REPORTER, "rgh/pharmacy")], False),
    ("dr.evans", "Rhys", "Evans", "Emergency physician", [(Role.STAFF_REPORTER, "rgh/ed")], False),
    ("mgr.fatima", "Fatima", "Hassan", "Nurse manager, Medicine", [(Role.UNIT_MANAGER, "rgh/medicine")], False),
    ("mgr.george", "George", "Nowak", "Ward manager, 2A", [(Role.UNIT_MANAGER, "lch/2a")], False),
    ("pso.hana", "Hana", "Kim", "Patient safety officer", [(Role.PATIENT_SAFETY_OFFICER, "")], False),
    ("pso.ivan", "Ivan", "Petrov", "Patient safety officer, Lakeside", [(Role.PATIENT_SAFETY_OFFICER, "lch")], False),
    ("analyst.jo", "Jo", "Williams", "Quality analyst", [(Role.QUALITY_ANALYST, "")], False),
    ("analyst.kai", "Kai", "Tanaka", "Quality analyst, Riverside General", [(Role.QUALITY_ANALYST, "rgh")], False),
    ("compliance.lee", "Lee", "Chen", "Accreditation specialist", [(Role.COMPLIANCE_SPECIALIST, "")], False),
    ("auditor.mia", "Mia", "Rossi", "Clinical audit coordinator", [(Role.CLINICAL_AUDITOR, "")], False),
    ("risk.noah", "Noah", "Brown", "Risk manager", [(Role.RISK_MANAGER, "")], False),
    ("qi.uma", "Uma", "Okafor", "Improvement advisor", [(Role.IMPROVEMENT_LEAD, "")], False),
    ("cqo.olivia", "Olivia", "Grant", "Chief Quality Officer", [(Role.CQO, "")], False),
    ("cmo.peter", "Peter", "Singh", "Chief Medical Officer", [(Role.CMO, "")], False),
    ("mso.quinn", "Quinn", "Adams", "Medical staff coordinator", [(Role.MEDICAL_STAFF_OFFICE, "")], False),
    ("chair.victor", "Victor", "Reyes", "Chair of Medicine", [(Role.DEPARTMENT_CHAIR, "rgh/medicine")], False),
    ("cred.wanda", "Wanda", "Lopez", "Credentials committee chair", [(Role.CREDENTIALS_COMMITTEE, "")], False),
    ("dr.yusuf", "Yusuf", "Demir", "Hospitalist, peer reviewer",
     [(Role.PEER_REVIEWER, ""), (Role.PRACTITIONER, "rgh/medicine")], False),
    ("prc.zara", "Zara", "Idowu", "Peer review committee chair", [(Role.PEER_REVIEW_COMMITTEE, "")], False),
    ("pr.pablo", "Pablo", "Ruiz", "Patient relations manager", [(Role.PATIENT_RELATIONS, "")], False),
    ("px.priya", "Priya", "Shah", "Director of patient experience", [(Role.PATIENT_EXPERIENCE_LEAD, "")], False),
    ("gc.grace", "Grace", "Obi", "Grievance committee chair", [(Role.GRIEVANCE_COMMITTEE, "")], False),
    ("board.rosa", "Rosa", "Diaz", "Board member, quality committee", [(Role.BOARD_MEMBER, "")], False),
    ("board.sam", "Sam", "Lewis", "Board member", [(Role.BOARD_MEMBER, "")], False),
    ("admin.tess", "Tess", "Moreau", "Systems administrator", [(Role.ADMINISTRATOR, "")], True),
]


# Modules add demo records of their own (called after the people exist): fn() -> None.
DEMO_LOADERS = []


def register_demo_loader(loader) -> None:
    DEMO_LOADERS.append(loader)


@functools.cache
def _demo_password_hash() -> str:
    """Every demo account has the same published password: hashed once, not once per account
    (an Argon2 hash takes about a fifth of a second, and the demo makes twenty accounts)."""
    return make_password(DEMO_PASSWORD)


@transaction.atomic
def load_demo_hospital() -> list[dict]:
    """Load (or refresh) the demo hospital; returns the logins to print."""
    content.load_organisation(content.read_file(ORGANISATION_FILE), str(ORGANISATION_FILE))
    if SHIPPED_CONTENT.is_dir():
        content.load_content([SHIPPED_CONTENT])
    _let_demo_officers_sign_in_with_the_password()
    logins = []
    for username, first, last, title, grants, admin_site in tqdm(PEOPLE, desc="Demo people", unit="person"):
        user = User.objects.filter(username=username).first() or services.create_user(
            username, email=f"{username}@riverside.example", first_name=first, last_name=last,
            job_title=title, is_admin_site_staff=admin_site, is_demo=True,
            password_hash=_demo_password_hash(),
        )
        for role, scope in grants:
            services.grant_role(user, role, content.resolve_scope(scope))
        if admin_site and not mfa_enabled(user):
            TOTP.activate(user, DEMO_ADMIN_TOTP_SECRET)
            RecoveryCodes.activate(user)  # as allauth does when someone enrols through the pages
        logins.append({
            "username": username, "name": f"{first} {last}",
            "roles": ", ".join(f"{Role(role).label} @ {scope or 'whole organisation'}" for role, scope in grants),
            "totp": DEMO_ADMIN_TOTP_SECRET if admin_site else "",
        })
    with without_email():
        for loader in DEMO_LOADERS:
            loader()
    return logins


def _let_demo_officers_sign_in_with_the_password() -> None:
    """The demo's officers and executives sign in with the published password alone, so that
    anyone can try each role (and the load benchmark can sign twenty of them in at once): the
    demo turns off the two-factor default of their roles, as an administrator may. A real
    installation keeps the default. The administrator (admin.tess) still uses a one-time code,
    whose secret the demo prints."""
    for role in MFA_REQUIRED_BY_DEFAULT - {Role.ADMINISTRATOR}:
        services.set_mfa_required(role, False)


def print_logins(logins: list[dict]) -> None:
    print("\nDemo hospital: Riverside Health System (made-up data)")
    print(f"Every demo account's password: {DEMO_PASSWORD}\n")
    width = max(len(login["username"]) for login in logins)
    for login in logins:
        print(f"  {login['username']:<{width}}  {login['roles']}")
    for login in logins:
        if login["totp"]:
            print(f"\n{login['username']} also signs in with a one-time code (two-factor).")
            print(f"  TOTP secret: {login['totp']}  (e.g. `oathtool --totp -b {login['totp']}`)")
    print()

