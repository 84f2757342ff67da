"""Every German sentence the rules engine says, in one place for review by the business.

Templates use str.format fields; amounts arrive already formatted (`1.234,56 €`, `40 %`).
"""

from __future__ import annotations

# Rule P2 – Risikobonus
RB_ADVICE = (
    "Risikobonus erst nach finaler Eingabe aller tarifierungsrelevanten Daten vergeben: "
    "Änderungen an Region, Betriebsart, Versicherungssummen, Vorschäden, "
    "Gefahrenkombinationen oder Selbstbehalten können das Maximum verändern."
)
RB_SYSTEM_MAX = (
    "Das tatsächliche Maximum ermittelt AMIS aus den Risikofaktoren; "
    "die Obergrenze hier folgt der Risikoklasse."
)
RB_MAX = "{klasse}: höchstens {max} Risikobonus."
RB_NONE = "{klasse}: kein Risikobonus möglich – diese Risiken sind bereits quersubventioniert."
RB_WISH_OK = "Gewünschte {wunsch} liegen im Rahmen (höchstens {max})."
RB_WISH_REFUSED = "Gewünschte {wunsch} übersteigen das Maximum von {max} – abgelehnt."
RB_HEAD_MAX = "Risikobonus ({klasse}): höchstens {max}"
RB_HEAD_OK = "Risikobonus {wunsch}: möglich"
RB_HEAD_REFUSED = "Risikobonus {wunsch}: nicht möglich (höchstens {max})"

# Rule P3 – Konzeptrabatt
KR_ERSATZ = "Der Konzeptrabatt findet im Ersatzgeschäft keine Anwendung, nur im Neugeschäft."
KR_COVERED = "Guthaben {saldo} plus Kredit {kredit} ergibt {verfuegbar}; {betrag} sind gedeckt."
KR_USES_CREDIT = (
    "Danach steht das Konto bei {rest}; der genutzte Kredit wird mit dem nächsten "
    "Budget verrechnet."
)
KR_NOT_COVERED = (
    "Guthaben {saldo} plus Kredit {kredit} ergibt nur {verfuegbar}; {betrag} sind nicht "
    "gedeckt. Der Antrag kann so nicht policiert werden – bitte die Geschäftsstelle "
    "kontaktieren."
)
KR_ACCOUNT_USED = "Saldo bzw. Kredit stammen aus Ihrem Konzeptrabattkonto."
KR_QUERY_IGNORED = "Saldo/Kredit aus der Anfrage wurden durch die Kontodaten ersetzt."
KR_CHECK_BEFORE = "Vor jeder Vergabe prüfen, ob das Konzeptrabattkonto gedeckt ist."
KR_HEAD_OK = "Konzeptrabatt {betrag}: gedeckt"
KR_HEAD_UNCOVERED = "Konzeptrabatt {betrag}: nicht gedeckt – Geschäftsstelle kontaktieren"
KR_HEAD_ERSATZ = "Konzeptrabatt: nicht möglich im Ersatzgeschäft"

# Rule P4 – Umstellungsnachlass
UN_RENTA_TOO_HIGH = "Vorvertragsrenta {renta} liegt über 100 % – kein Umstellungsnachlass."
UN_NOT_ERSATZ = "Umstellungsnachlass gibt es nur im Ersatzgeschäft, nicht im Neugeschäft."
UN_TOO_YOUNG = "Bestandsvertrag erst {monate} Monate im Bestand – mindestens 6 Monate sind nötig."
UN_PRECONDITIONS_MET = (
    "Voraussetzungen erfüllt: Vorvertragsrenta {renta} (höchstens 100 %), Ersatzgeschäft "
    "im FirmenKonzept-fähigen Segment, {monate} Monate im Bestand (mindestens 6)."
)
UN_PRECONDITION_SEGMENT_OPEN = (
    "Vorvertragsrenta {renta} (höchstens 100 %), Ersatzgeschäft und {monate} Monate im "
    "Bestand (mindestens 6) passen. Offen: Liegt das Ersatzgeschäft in einem "
    "FirmenKonzept-fähigen Segment? Nur dann gilt das Folgende (segment=ja|nein)."
)
UN_NOT_SEGMENT = (
    "Das Ersatzgeschäft liegt nicht in einem FirmenKonzept-fähigen Segment – kein "
    "Umstellungsnachlass."
)
UN_HEAD_SEGMENT_OPEN = " – sofern FirmenKonzept-Segment"
UN_RB_EXCEEDS = (
    "Risikobonus {rb} übersteigt das Maximum von {max} ({klasse}) – bitte zuerst den "
    "Risikobonus korrigieren."
)
UN_NOT_NEEDED = (
    "Neuer Beitrag nach Risikobonus {nachher} ist nicht höher als der bisherige Beitrag "
    "{alt} – kein Umstellungsnachlass nötig, er wird nicht angeboten."
)
UN_NEEDED = (
    "Neuer Beitrag nach Risikobonus {nachher} liegt über dem bisherigen Beitrag {alt} – "
    "Umstellungsnachlass möglich."
)
UN_CAP_LOW = "Vorvertragsrenta bis 50 %: in {sparte} höchstens {cap}."
UN_CAP_HIGH = "Vorvertragsrenta über 50 % bis 100 %: in allen Branchen höchstens {cap}."
UN_FLOOR_OLD = "Der bisherige Beitrag {alt} darf nicht unterschritten werden."
UN_FLOOR_GENERATION = (
    "Ältere Tarifgeneration ({sparte}, Tarifjahr {jahr}, vor {grenze}): nicht unter bisherigem "
    "Beitrag plus 10 % = {floor}."
)
UN_FLOOR_RENTA = (
    "Vorvertragsrenta {renta} über 50 %: nicht unter bisherigem Beitrag plus 20 % = {floor}."
)
UN_FLOOR_BOTH = "Beide Untergrenzen gelten – die höhere ({floor}) zählt."
UN_BOUND_BY_CAP = (
    "Der Höchstsatz {cap} begrenzt den Nachlass; die Untergrenze {floor} wird eingehalten."
)
UN_BOUND_BY_FLOOR = (
    "Die Untergrenze {floor} begrenzt den Nachlass auf {max} (weniger als der Höchstsatz {cap})."
)
UN_FLOOR_REACHED = (
    "Der Beitrag nach Risikobonus {nachher} liegt nicht über der Untergrenze {floor} – "
    "kein Umstellungsnachlass möglich."
)
UN_HEAD_INELIGIBLE = "Umstellungsnachlass ({sparte}): nicht möglich"
UN_HEAD_NOT_NEEDED = "Umstellungsnachlass ({sparte}): nicht nötig"
UN_HEAD_MAX = "Umstellungsnachlass ({sparte}): höchstens {max}"

# Rule P5 – Spezialistennachlass
SP_NO_INHALT = (
    "Der Spezialistennachlass gilt nur für den Sach-Inhalt Einzelbaustein "
    "(Inhaltsversicherung); ohne `inhalt` gibt es ihn nicht."
)
SP_NONE = (
    "Inhaltsversicherung ohne Berufs-/Betriebshaftpflicht und ohne Rechtsschutz: "
    "kein Spezialistennachlass."
)
SP_ONE = "Inhaltsversicherung plus {sparte}: 5 % Spezialistennachlass."
SP_BOTH = "Inhaltsversicherung plus Haftpflicht und Rechtsschutz: 10 % Spezialistennachlass."
SP_COMPENSATES = (
    "Im Sach-Inhalt Einzelbaustein wird kein Kombinachlass maschinell ermittelt; der "
    "Spezialistennachlass gleicht das aus."
)
SP_DROPPED_FIRST_YEAR = (
    "{sparten} im ersten Versicherungsjahr weggefallen: der Nachlass wird für die "
    "verbleibenden Branchen angepasst, von {vorher} auf {nachher}."
)
SP_DROPPED_LATER = (
    "{sparten} erst im {jahr}. Versicherungsjahr weggefallen: keine Anpassung (nur im "
    "ersten Versicherungsjahr)."
)
SP_BFG = (
    "Den Spezialistennachlass mit dem BFG abstimmen und auf der Seite "
    "„Entscheidung BFG/MB/UW/FB“ dokumentieren."
)
SP_HEAD = "Spezialistennachlass: {percent}"
SP_HEAD_NONE = "Spezialistennachlass: nicht möglich"

# Rule P1 – Kombirabatt
KB_AUTOMATIC = "Der Kombirabatt wird in AMIS automatisch vergeben."
KB_COUNT = "Gezählt wird je Branche: {sparten} = {anzahl} Branche(n)."
KB_ZAEHLSTUECK = (
    "{sparten} fachlich ausgesteuert, aber in den Grenzen des FirmenKonzepts: zählt als "
    "Zählstück mit, erhält selbst keinen Kombirabatt."
)
KB_RATE = "Satz für {anzahl} Branche(n) laut Tabelle: {rate}."
KB_NOT_CONFIGURED = (
    "Die Kombirabatt-Sätze sind nicht konfiguriert (die Quellen nennen keine Sätze) – "
    "bitte eine Satztabelle hinterlegen."
)
KB_EXAMPLE_TABLE = "Achtung: Beispieltabelle – keine echten Sätze."
KB_DROPPED_FIRST_YEAR = (
    "{sparten} im ersten Versicherungsjahr weggefallen: der Kombirabatt der verbleibenden "
    "Branche(n) wird angepasst – jetzt {anzahl} Branche(n)."
)
KB_DROPPED_LATER = (
    "{sparten} erst im {jahr}. Versicherungsjahr weggefallen: keine Sanktion, der "
    "Kombirabatt bleibt."
)
KB_INHALT = (
    "Für den Sach-Inhalt Einzelbaustein wird kein Kombinachlass maschinell ermittelt – "
    "stattdessen den Spezialistennachlass nutzen, z. B. `spezialist inhalt haft rs`."
)
KB_NOTHING_DISCOUNTED = "Keine Branche im Konzept, auf die der Kombirabatt wirkt."
KB_HEAD = "Kombirabatt ({anzahl} Branche(n)): {rate}"
KB_HEAD_UNCONFIGURED = "Kombirabatt ({anzahl} Branche(n)): Sätze nicht konfiguriert"
KB_HEAD_INHALT = "Kombirabatt: nicht für den Sach-Inhalt Einzelbaustein"

# Hilfe
HELP_HEAD = "Rabatt-Anfragen im FirmenKonzept"
