#!/usr/bin/env python3
"""Writes corpora/sample/: a German-English corpus composed from hand-written phrase lists.

Every sentence is built from a subject, a verb with its German conjugation and English form, an
object (with gender, article and optional adjective, declined for the accusative), a place (dative)
and a time, in statements (time fronted with verb-second order, or after the verb), yes/no questions
(do-support in English), negations and "likes to" sentences, plus a few phrasebook lines. The split
is seeded; every word of the validation and test lines occurs in the training lines, and no held-out
sentence occurs in training, so a model that does well on them has learned to combine, not to recall.

    python3 scripts/make-sample-corpus.py            # writes corpora/sample/{train,valid,test}.{de,en}
"""
import os
import random

random.seed(20261201)

# subject: (German nominative, English, person) with person in 1s, 2s, 3s, 1p, 3p
SUBJECTS = [
    ("der Mann", "the man", "3s"), ("die Frau", "the woman", "3s"), ("das Kind", "the child", "3s"),
    ("der Junge", "the boy", "3s"), ("das Mädchen", "the girl", "3s"), ("der Lehrer", "the teacher", "3s"),
    ("die Lehrerin", "the teacher", "3s"), ("der Koch", "the cook", "3s"), ("die Ärztin", "the doctor", "3s"),
    ("mein Bruder", "my brother", "3s"), ("meine Schwester", "my sister", "3s"), ("unser Nachbar", "our neighbour", "3s"),
    ("die Großmutter", "the grandmother", "3s"), ("der Großvater", "the grandfather", "3s"), ("ein Student", "a student", "3s"),
    ("eine Touristin", "a tourist", "3s"), ("die alte Dame", "the old lady", "3s"), ("er", "he", "3s"), ("sie", "she", "3s"),
    ("die Kinder", "the children", "3p"), ("meine Eltern", "my parents", "3p"), ("die Studenten", "the students", "3p"),
    ("zwei Frauen", "two women", "3p"), ("drei Männer", "three men", "3p"), ("die Nachbarn", "the neighbours", "3p"),
    ("meine Freunde", "my friends", "3p"), ("ich", "I", "1s"), ("wir", "we", "1p"), ("du", "you", "2s"),
]

# verb: German (1s, 2s, 3s, plural), English (base, 3s), object class
TRANSITIVE = [
    (("lese", "liest", "liest", "lesen"), ("read", "reads"), "text"),
    (("schreibe", "schreibst", "schreibt", "schreiben"), ("write", "writes"), "writing"),
    (("esse", "isst", "isst", "essen"), ("eat", "eats"), "food"),
    (("koche", "kochst", "kocht", "kochen"), ("cook", "cooks"), "dish"),
    (("trinke", "trinkst", "trinkt", "trinken"), ("drink", "drinks"), "drink"),
    (("kaufe", "kaufst", "kauft", "kaufen"), ("buy", "buys"), "thing"),
    (("verkaufe", "verkaufst", "verkauft", "verkaufen"), ("sell", "sells"), "thing"),
    (("suche", "suchst", "sucht", "suchen"), ("look for", "looks for"), "thing"),
    (("finde", "findest", "findet", "finden"), ("find", "finds"), "thing"),
    (("brauche", "brauchst", "braucht", "brauchen"), ("need", "needs"), "thing"),
    (("trage", "trägst", "trägt", "tragen"), ("carry", "carries"), "thing"),
    (("bringe", "bringst", "bringt", "bringen"), ("bring", "brings"), "thing"),
    (("sehe", "siehst", "sieht", "sehen"), ("see", "sees"), "sight"),
    (("wasche", "wäschst", "wäscht", "waschen"), ("wash", "washes"), "washable"),
    (("repariere", "reparierst", "repariert", "reparieren"), ("repair", "repairs"), "fixable"),
    (("male", "malst", "malt", "malen"), ("paint", "paints"), "paintable"),
    (("öffne", "öffnest", "öffnet", "öffnen"), ("open", "opens"), "openable"),
]
INTRANSITIVE = [
    (("arbeite", "arbeitest", "arbeitet", "arbeiten"), ("work", "works")),
    (("schlafe", "schläfst", "schläft", "schlafen"), ("sleep", "sleeps")),
    (("tanze", "tanzt", "tanzt", "tanzen"), ("dance", "dances")),
    (("singe", "singst", "singt", "singen"), ("sing", "sings")),
    (("warte", "wartest", "wartet", "warten"), ("wait", "waits")),
    (("spiele", "spielst", "spielt", "spielen"), ("play", "plays")),
    (("lerne", "lernst", "lernt", "lernen"), ("study", "studies")),
    (("frühstücke", "frühstückst", "frühstückt", "frühstücken"), ("have breakfast", "has breakfast")),
]

# noun: (German noun, gender m/f/n/pl, English noun, classes)
NOUNS = [
    ("Buch", "n", "book", "text thing"), ("Zeitung", "f", "newspaper", "text thing"), ("Brief", "m", "letter", "text writing openable"),
    ("Zeitschrift", "f", "magazine", "text thing"), ("Geschichte", "f", "story", "text writing"), ("Karte", "f", "map", "text thing"),
    ("Postkarte", "f", "postcard", "writing thing"), ("E-Mail", "f", "email", "writing text"), ("Liste", "f", "list", "writing text"),
    ("Apfel", "m", "apple", "food thing"), ("Brot", "n", "bread", "food thing"), ("Suppe", "f", "soup", "food dish"),
    ("Kuchen", "m", "cake", "food dish thing"), ("Banane", "f", "banana", "food thing"), ("Pizza", "f", "pizza", "food dish"),
    ("Salat", "m", "salad", "food dish"), ("Kaffee", "m", "coffee", "drink"), ("Tee", "m", "tea", "drink"),
    ("Saft", "m", "juice", "drink"), ("Wasser", "n", "water", "drink"), ("Milch", "f", "milk", "drink"),
    ("Tasche", "f", "bag", "thing openable washable"), ("Schlüssel", "m", "key", "thing"), ("Fahrrad", "n", "bike", "thing fixable washable paintable sight"),
    ("Lampe", "f", "lamp", "thing fixable paintable"), ("Stuhl", "m", "chair", "thing fixable paintable"), ("Tisch", "m", "table", "thing fixable paintable"),
    ("Jacke", "f", "jacket", "thing washable"), ("Hut", "m", "hat", "thing"), ("Regenschirm", "m", "umbrella", "thing openable fixable"),
    ("Koffer", "m", "suitcase", "thing openable"), ("Ball", "m", "ball", "thing sight"), ("Blumen", "pl", "flowers", "thing sight paintable"),
    ("Schuhe", "pl", "shoes", "thing washable"), ("Auto", "n", "car", "washable fixable paintable sight"), ("Hemd", "n", "shirt", "washable thing"),
    ("Bild", "n", "picture", "paintable sight thing"), ("Haus", "n", "house", "paintable sight"), ("Tür", "f", "door", "openable fixable paintable"),
    ("Fenster", "n", "window", "openable fixable washable"), ("Uhr", "f", "clock", "fixable thing"), ("Vogel", "m", "bird", "sight paintable"),
    ("Katze", "f", "cat", "sight"), ("Hund", "m", "dog", "sight washable"), ("Berg", "m", "mountain", "sight paintable"),
    ("Zug", "m", "train", "sight"), ("Brücke", "f", "bridge", "sight paintable"), ("Boot", "n", "boat", "sight fixable paintable"),
]
ADJECTIVES = [("rot", "red"), ("blau", "blue"), ("grün", "green"), ("alt", "old"), ("neu", "new"), ("groß", "big"),
              ("klein", "small"), ("schön", "beautiful"), ("schwer", "heavy"), ("billig", "cheap"), ("gelb", "yellow")]
UNCOUNTABLE = {"Kaffee", "Tee", "Saft", "Wasser", "Milch", "Brot"}
NO_ADJECTIVE = {"Kaffee", "Tee", "Saft", "Wasser", "Milch", "E-Mail", "Suppe", "Salat"}
PLACES = [("im Park", "in the park"), ("in der Küche", "in the kitchen"), ("im Garten", "in the garden"),
          ("auf dem Markt", "at the market"), ("im Büro", "in the office"), ("in der Schule", "at school"),
          ("am Bahnhof", "at the station"), ("im Zug", "on the train"), ("auf dem Balkon", "on the balcony"),
          ("in der Stadt", "in town"), ("am See", "by the lake"), ("im Café", "in the café"), ("zu Hause", "at home"),
          ("in der Bibliothek", "in the library"), ("am Strand", "on the beach"), ("im Wohnzimmer", "in the living room")]
TIMES = [("heute", "today"), ("morgen", "tomorrow"), ("am Morgen", "in the morning"), ("am Abend", "in the evening"),
         ("jeden Tag", "every day"), ("am Wochenende", "at the weekend"), ("nach der Arbeit", "after work"),
         ("am Sonntag", "on Sunday"), ("oft", "often")]
PHRASEBOOK = [
    ("Guten Morgen!", "Good morning!"), ("Wie geht es dir?", "How are you?"), ("Danke, mir geht es gut.", "Thank you, I am fine."),
    ("Wo ist der Bahnhof?", "Where is the station?"), ("Wie viel kostet das?", "How much does that cost?"),
    ("Ich verstehe das nicht.", "I do not understand that."), ("Sprechen Sie Englisch?", "Do you speak English?"),
    ("Das Wetter ist heute schön.", "The weather is nice today."), ("Es regnet.", "It is raining."),
    ("Ich habe Hunger.", "I am hungry."), ("Wir haben Durst.", "We are thirsty."), ("Bis morgen!", "See you tomorrow!"),
    ("Die Rechnung, bitte.", "The bill, please."), ("Entschuldigung, wie spät ist es?", "Excuse me, what time is it?"),
    ("Ich komme aus Deutschland.", "I come from Germany."), ("Gute Nacht!", "Good night!"),
]

def person_index(p):
    return {"1s": 0, "2s": 1, "3s": 2, "1p": 3, "3p": 3}[p]

def english_verb(en, person, base=False):
    return en[0] if base or person != "3s" else en[1]

def do_form(person):
    return "Does" if person == "3s" else "Do"

def article_en(noun_en, adj_en, definite):
    if definite:
        return "the"
    first = (adj_en or noun_en)[0]
    return "an" if first in "aeiou" else "a"

def object_phrase(noun, definite, adjective):
    """Accusative German and English for a noun with an optional adjective."""
    de, g, en, _ = noun
    adj_de, adj_en = adjective if adjective else ("", "")
    if g == "pl":
        if definite:
            return f"die {adj_de + 'en ' if adj_de else ''}{de}", f"the {adj_en + ' ' if adj_en else ''}{en}"
        return f"{adj_de + 'e ' if adj_de else ''}{de}", f"{adj_en + ' ' if adj_en else ''}{en}"
    if de in UNCOUNTABLE and not definite:
        return f"{adj_de + ('en ' if g == 'm' else 'e ' if g == 'f' else 'es ') if adj_de else ''}{de}", f"{adj_en + ' ' if adj_en else ''}{en}"
    if definite:
        art = {"m": "den", "f": "die", "n": "das"}[g]
        ending = {"m": "en", "f": "e", "n": "e"}[g]
    else:
        art = {"m": "einen", "f": "eine", "n": "ein"}[g]
        ending = {"m": "en", "f": "e", "n": "es"}[g]
    de_phrase = f"{art} {adj_de + ending + ' ' if adj_de else ''}{de}"
    en_phrase = f"{article_en(en, adj_en, definite)} {adj_en + ' ' if adj_en else ''}{en}"
    return de_phrase, en_phrase

def cap(s):
    return s[0].upper() + s[1:]

def sentence():
    subj_de, subj_en, person = random.choice(SUBJECTS)
    pi = person_index(person)
    kind = random.random()
    place = random.choice(PLACES) if random.random() < 0.6 else None
    time = random.choice(TIMES) if random.random() < 0.4 else None
    if random.random() < 0.25:
        forms, en = random.choice(INTRANSITIVE)
        verb_de, obj_de, obj_en = forms[pi], "", ""
    else:
        forms, en, cls = random.choice(TRANSITIVE)
        noun = random.choice([n for n in NOUNS if cls in n[3].split()])
        definite = random.random() < 0.4
        adjective = random.choice(ADJECTIVES) if random.random() < 0.35 and noun[0] not in NO_ADJECTIVE else None
        verb_de = forms[pi]
        obj_de, obj_en = object_phrase(noun, definite, adjective)
    en_subject = subj_en
    rest_de = " ".join(x for x in [obj_de, place[0] if place else ""] if x)
    rest_en = " ".join(x for x in [obj_en, place[1] if place else ""] if x)
    if kind < 0.15:  # question
        de = f"{cap(verb_de)} {subj_de} {rest_de}".strip() + "?"
        en_out = f"{do_form(person)} {en_subject} {english_verb(en, person, base=True)} {rest_en}".strip() + "?"
        return de, en_out
    if kind < 0.25 and obj_de.split()[:1] and obj_de.split()[0] in ("den", "die", "das") and not place:  # negation
        de = f"{cap(subj_de)} {verb_de} {obj_de} nicht."
        en_out = f"{cap(en_subject)} {'does' if person == '3s' else 'do'} not {english_verb(en, person, base=True)} {obj_en}."
        return de, en_out
    if kind < 0.35:  # likes to
        de = f"{cap(subj_de)} {verb_de} gern {rest_de}".strip() + "."
        likes = "likes" if person == "3s" else "like"
        en_out = f"{cap(en_subject)} {likes} to {english_verb(en, person, base=True)} {rest_en}".strip() + "."
        return de, en_out
    if time and random.random() < 0.5 and time[0] != "oft":  # time fronted: verb second
        de = f"{cap(time[0])} {verb_de} {subj_de} {rest_de}".strip() + "."
        en_out = f"{cap(time[1])} {en_subject} {english_verb(en, person)} {rest_en}".strip() + "."
        return de, en_out
    if time and time[0] == "oft":
        de = f"{cap(subj_de)} {verb_de} oft {rest_de}".strip() + "."
        en_out = f"{cap(en_subject)} often {english_verb(en, person)} {rest_en}".strip() + "."
        return de, en_out
    if time:  # time after the verb in German, at the end in English
        de = f"{cap(subj_de)} {verb_de} {time[0]} {rest_de}".strip() + "."
        en_out = f"{cap(en_subject)} {english_verb(en, person)} {rest_en} {time[1]}".replace("  ", " ").strip() + "."
        return de, en_out
    de = f"{cap(subj_de)} {verb_de} {rest_de}".strip() + "."
    en_out = f"{cap(en_subject)} {english_verb(en, person)} {rest_en}".strip() + "."
    return de, en_out

def words(s):
    return set(s.replace(".", " ").replace("?", " ").replace("!", " ").replace(",", " ").lower().split())

def main():
    pairs, seen = [], set()
    while len(pairs) < 24000:
        de, en = sentence()
        de, en = " ".join(de.split()), " ".join(en.split())
        if de not in seen:
            seen.add(de)
            pairs.append((de, en))
    random.shuffle(pairs)
    held, train = pairs[:600], pairs[600:] + PHRASEBOOK
    train_words_de = set().union(*(words(d) for d, _ in train))
    train_words_en = set().union(*(words(e) for _, e in train))
    keep = []
    for d, e in held:  # held-out lines use only words seen in training
        (keep if words(d) <= train_words_de and words(e) <= train_words_en else train).append((d, e))
    valid, test = keep[:300], keep[300:600]
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpora", "sample")
    for name, part in [("train", train), ("valid", valid), ("test", test)]:
        for lang, k in [("de", 0), ("en", 1)]:
            with open(os.path.join(out, f"{name}.{lang}"), "w", encoding="utf-8") as f:
                f.write("".join(p[k] + "\n" for p in part))
    print(f"train {len(train)}, valid {len(valid)}, test {len(test)} pairs")

if __name__ == "__main__":
    main()
