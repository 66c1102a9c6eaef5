"""Word lists and question wordings of the synthetic curation (`abo_vqa.sample.curation`).

Each `OpenTopic` is one kind of question a multimodal LLM asks about a product photo when told to
vary its questions, with the words it answers with, most frequent first (the generator draws them
with Zipf weights by rank). These are questions the sample's renders cannot show (an animal on the
print, the word on a label, the size of a bed), so their answers are drawn, not read from the image.

`truth_type` is the question type the project's inference should give the wording; `labels` are
type labels a curation may carry instead (the validator maps them onto the project's types).
All words are lowercase ASCII, one word, and never a number word, an article, yes/no or a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@dataclass(frozen=True)
class OpenTopic:
    """One family of open questions whose answer the image does not show."""

    name: str
    truth_type: str
    """The type `abo_vqa.qa.validate.infer_question_type` should give these wordings."""
    wordings: tuple[str, ...]
    """Question templates; ``{p}`` is the product noun."""
    words: tuple[str, ...]
    """Answers, most frequent first."""
    kinds: frozenset[str] = frozenset()
    """Product words (`abo_vqa.vocabulary.PRODUCT_TYPES` values) the topic suits; empty = all."""
    labels: tuple[str, ...] = ()
    """Type labels a curation may give these questions (empty string = no label)."""


# Finer product types, per rendered kind ("What is the type of shoe shown" -> sandal).
SUBTYPES: dict[str, tuple[str, ...]] = {
    "shoes": _words(
        "sneaker sandal boot loafer slipper heel oxford moccasin clog flat pump mule espadrille "
        "wedge stiletto brogue slingback trainer derby platform"
    ),
    "chair": _words(
        "armchair recliner rocker stool accent dining office folding lounge wingback barstool "
        "swivel slipper bergere gaming ergonomic papasan director"
    ),
    "table": _words(
        "coffee dining side console nightstand desk accent bistro end pedestal trestle nesting "
        "drafting picnic vanity buffet gateleg"
    ),
    "sofa": _words(
        "sectional loveseat sleeper futon chesterfield settee couch daybed chaise divan "
        "recliner tuxedo camelback lawson modular"
    ),
    "lamp": _words(
        "floor desk table pendant sconce torchiere arc chandelier banker tripod lantern "
        "reading bedside candelabra nightlight"
    ),
    "bed": _words(
        "platform canopy bunk sleigh loft daybed trundle murphy poster panel storage "
        "upholstered captain waterbed hammock"
    ),
    "shelf": _words(
        "bookcase floating corner ladder cube etagere wall bookshelf cabinet hutch rack "
        "display tiered spice shoe"
    ),
    "vase": _words(
        "bud urn amphora jug bottle cylinder trumpet pitcher ginger bowl planter jar carafe flask"
    ),
    "bottle": _words(
        "water thermos flask tumbler canteen decanter growler shaker sports infuser jug "
        "carafe squeeze"
    ),
    "mug": _words(
        "coffee travel tea espresso stein tankard cup tumbler latte camping beer soup cappuccino"
    ),
    "case": _words(
        "wallet folio bumper rugged clear flip holster sleeve skin armband wristlet "
        "kickstand cardholder"
    ),
    "rug": _words(
        "runner doormat shag kilim rag braided hooked tufted dhurrie flatweave sheepskin mat hearth"
    ),
    "pillow": _words(
        "throw bolster cushion lumbar sham neckroll floor body travel wedge pouf bed sofa"
    ),
    "clock": _words(
        "wall alarm mantel cuckoo grandfather desk pendulum digital analog atomic "
        "station kitchen sunburst"
    ),
    "mirror": _words(
        "wall vanity floor dresser sunburst mantel compact makeup pier cheval full arched bathroom"
    ),
    "backpack": _words(
        "daypack rucksack laptop hiking school knapsack drawstring sling duffel "
        "convertible travel diaper hydration"
    ),
}
SUBTYPE_WORDINGS: tuple[str, ...] = (
    "What is the type of {p} shown",
    "What type of {p} is this",
    "What kind of {p} is pictured?",
    "What is the specific type of {p} in the image?",
)

_TEXT_WORDS = _words(
    "love home coffee hello relax dream happy family kitchen welcome smile peace hope joy "
    "believe live laugh blessed cozy grateful sweet life bake wine beach lake cabin garden "
    "mama boss friends good fresh organic vintage original classic premium deluxe handmade "
    "paris london rome tokyo york texas boston chicago brooklyn seattle berlin vienna "
    "madrid dublin sydney milan venice lisbon prague oslo denver austin miami aspen "
    "tahoe vegas napa malibu cairo delhi kyoto seoul lima quito havana bali fiji "
    "tea cocoa espresso latte cafe bistro bakery farm market pantry cellar studio atelier "
    "explore adventure wander journey travel voyage horizon north south east west "
    "summer winter autumn spring sunshine moonlight starlight rainbow ocean river forest "
    "mountain desert island meadow valley canyon prairie harbor lighthouse anchor "
    "brave strong kind bold wild free calm bright gentle lucky royal noble golden "
    "queen king prince princess hero legend champion victory glory honor "
    "mom dad baby kids grandma grandpa sister brother bride groom wife husband "
    "love yourself inspire create imagine discover focus hustle grow shine sparkle glow "
    "thanks cheers party fiesta holiday christmas easter halloween birthday wedding "
    "gym yoga run fitness sport team coach player goal score game level power energy "
    "eco green natural pure simple essential basic urban metro city country rustic "
    "nordic alpine tropical coastal nautical western pacific atlantic arctic "
    "music dance rock jazz blues pop soul disco vinyl radio piano guitar "
    "books read write poetry story chapter library novel author page "
    "chef cook grill barbecue pizza pasta taco sushi burger donut cookie cake "
    "pie honey sugar spice salt pepper lemon lime mint basil rosemary lavender "
    "cotton wool silk linen denim leather velvet cashmere "
    "apex summit zenith vertex nova orbit comet galaxy cosmos stellar lunar solar "
    "atlas titan orion phoenix aurora luna stella terra vita nova "
    "casa maison haus villa cottage manor lodge chalet ranch loft "
    "acme vertex zephyr nimbus vortex pinnacle keystone cornerstone "
    "handle fragile keep caution warning danger stop open closed push pull exit "
    "paw meow woof bark purr hug kiss cuddle snuggle nap sleep rest dreams "
    "boho chic luxe glam retro mod pop funky groovy hip cool awesome epic rad "
    "sale new best hot top star gold silver platinum diamond pearl ruby "
    "ready set go way "
    "pure bliss serenity harmony balance zen karma lotus mantra namaste "
    "wanderlust fernweh hygge lagom ikigai "
    "aloha hola bonjour ciao salut hallo namaste shalom salaam "
    "heritage legacy tradition est since founded crafted made quality authentic genuine "
    "signature select reserve limited edition collection series studio works co "
    "mister madam sir lady gent chap fellow buddy pal mate "
    "alpha beta gamma delta omega sigma theta kappa lambda zeta "
    "river stone rock pebble sand shell coral reef wave tide surf salt"
)

_ANIMALS = _words(
    "cat dog owl bird elephant fox deer bear horse rabbit butterfly fish lion tiger giraffe "
    "zebra monkey panda koala penguin flamingo parrot peacock swan duck goose hen rooster "
    "cow pig sheep goat llama alpaca camel moose wolf raccoon squirrel hedgehog otter "
    "beaver seal whale dolphin shark octopus turtle frog lizard snake crocodile dinosaur "
    "bee ladybug dragonfly hummingbird eagle hawk falcon crow raven robin sparrow finch "
    "cardinal bluejay woodpecker pelican heron stork crane toucan hippo rhino leopard "
    "cheetah jaguar panther lynx bobcat kangaroo sloth hamster mouse bat badger skunk "
    "mole weasel ferret mink porcupine armadillo chameleon gecko iguana crab lobster "
    "starfish seahorse jellyfish snail ant spider scorpion beetle moth unicorn dragon "
    "pug poodle corgi dachshund beagle bulldog labrador terrier husky collie chihuahua "
    "retriever shepherd greyhound spaniel"
)

_TEXTURES = _words(
    "smooth soft woven velvet ribbed quilted knit plush textured rough grainy fuzzy suede "
    "glossy silky boucle tufted nubby corduroy shaggy matte waffle chenille fleecy sherpa "
    "crinkled embossed pebbled brushed coarse satiny felted terry jacquard herringbone "
    "twill mesh canvas cable furry slubbed crushed puckered honeycomb spongy rubbery "
    "leathery papery bumpy ridged grooved dimpled hammered sandy gritty waxy slick "
    "polished porous padded pleated ruched"
)

_FINISHES = _words(
    "polished brushed lacquered distressed glazed painted varnished antiqued hammered "
    "glossy matte satin oiled waxed enamel chrome powdered weathered whitewashed stained "
    "gilded burnished patina frosted pearlescent metallic iridescent crackled raw "
    "sandblasted anodized galvanized blackened oxidized lacquer gloss sheen"
)

_SIZES = _words(
    "queen king twin full small medium large standard compact oversized mini petite "
    "jumbo regular tall wide narrow slim xl xs xxl grande junior toddler crib single "
    "double travel pocket personal family midsize chunky slender tiny huge giant"
)

_METALS = _words(
    "silver gold brass copper chrome bronze iron aluminum nickel pewter titanium zinc "
    "tin platinum steel gunmetal rosegold"
)

_WOODS = _words(
    "oak walnut pine teak maple cherry birch mahogany cedar ash beech acacia rosewood "
    "ebony elm hickory alder poplar mango driftwood cork sheesham spruce fir cypress "
    "redwood balsa willow olivewood paulownia"
)

_FABRICS = _words(
    "cotton linen polyester velvet wool silk denim suede nylon canvas jute microfiber "
    "rayon satin chenille fleece felt burlap tweed corduroy spandex cashmere mohair "
    "viscose modal lyocell flannel organza chiffon tulle lace muslin gauze sateen "
    "poplin oxford chambray seersucker neoprene vinyl"
)

_CLOSURES = _words(
    "zipper buckle velcro laces snap button drawstring magnet clasp hook toggle flap "
    "elastic strap latch knot tie grommet eyelet rivet"
)

_ATTACHED = _words(
    "strap tassel tag chain hook ribbon keychain carabiner pompom charm bell rope cord "
    "clip loop handle fringe bow pendant medallion feather bead ring wheel caster "
    "hanger bracket knob pull spout lid cap stopper cushion tray shelf drawer basket"
)

_FLOWERS = _words(
    "rose tulip daisy sunflower lily orchid peony lotus lavender poppy magnolia hibiscus "
    "daffodil iris carnation dahlia marigold jasmine violet camellia chrysanthemum "
    "gardenia azalea begonia zinnia cosmos aster freesia gerbera anemone protea "
    "fern palm cactus succulent ivy bamboo monstera eucalyptus olive bonsai clover "
    "thistle heather wisteria bluebell buttercup dandelion foxglove primrose"
)

_FOODS = _words(
    "apple lemon cherry strawberry banana pineapple orange watermelon avocado peach pear "
    "grape kiwi mango coconut blueberry raspberry lime plum pomegranate fig melon "
    "carrot tomato mushroom pepper corn pumpkin cupcake donut cookie pizza taco sushi "
    "croissant pretzel waffle pancake bagel macaron popsicle lollipop candy cheese"
)

_ROOMS = _words(
    "bedroom kitchen bathroom office nursery patio hallway entryway den garage porch "
    "playroom basement attic sunroom library pantry closet balcony dorm studio foyer "
    "mudroom garden deck"
)

_SYMBOLS = _words(
    "heart star anchor moon sun arrow crown leaf compass feather skull cross diamond "
    "infinity lightning snowflake paw peace wave mountain tree cloud triangle circle "
    "hexagon spiral knot shell key lock clover horseshoe mandala eye hand"
)

_OCCASIONS = _words(
    "summer winter everyday wedding christmas spring autumn travel camping office "
    "school picnic party birthday halloween easter thanksgiving valentines graduation "
    "gifting holidays weekend vacation beach"
)

_FIGURES = _words(
    "astronaut pirate mermaid robot fairy princess knight wizard ninja cowboy angel "
    "santa snowman gnome elf ghost witch clown ballerina surfer skier sailor chef "
    "superhero alien monster zombie vampire viking samurai"
)

_VEHICLES = _words(
    "car bicycle truck airplane boat train bus tractor scooter motorcycle helicopter "
    "sailboat rocket submarine jeep van taxi tram balloon canoe kayak yacht"
)

_SPORTS = _words(
    "running hiking yoga tennis golf soccer basketball baseball football cycling "
    "swimming skiing climbing boxing surfing skating fishing camping volleyball hockey "
    "lacrosse rugby cricket badminton pilates"
)

_STONES = _words(
    "marble granite quartz onyx slate travertine agate jade turquoise amethyst opal "
    "pearl ruby sapphire emerald topaz garnet jasper malachite obsidian"
)

_PARTS = _words(
    "lid handle knob cap cushion legs base spout armrest headboard drawer door hinge "
    "strap sole heel collar rim frame panel dial hands pendulum shade bulb switch"
)

_THEMES = _words(
    "nautical tropical floral botanical coastal farmhouse bohemian western safari "
    "woodland celestial geometric abstract oriental moroccan scandinavian industrial "
    "gothic victorian baroque artdeco zen rustic"
)

_SHADES = _words(
    "navy teal maroon olive charcoal ivory cream tan mustard burgundy coral turquoise "
    "lavender mint sage taupe khaki rust plum emerald indigo magenta salmon peach "
    "lilac aqua cobalt crimson scarlet ochre"
)

_NAMES = _words(
    "emma olivia ava sophia mia amelia harper evelyn abigail emily ella elizabeth camila "
    "luna sofia avery mila aria scarlett penelope layla chloe victoria madison eleanor "
    "grace nora riley zoey hannah hazel lily ellie violet lillian zoe stella aurora natalie "
    "emilia everly leah aubrey willow addison lucy audrey bella nova brooklyn paisley "
    "liam noah oliver elijah james william benjamin lucas henry theodore jack levi "
    "alexander jackson mateo daniel michael mason sebastian ethan logan owen samuel jacob "
    "asher aiden john joseph wyatt david leo luke julian hudson grayson matthew ezra "
    "gabriel carter isaac jayden luca anthony dylan lincoln thomas maverick elias josiah "
    "charles caleb christopher ezekiel miles jaxon isaiah andrew joshua nathan nolan adrian "
    "cameron santiago eli aaron ryan angel cooper waylon easton kai christian landon colton"
)

_PLACES = _words(
    "california florida hawaii alaska colorado montana maine vermont oregon arizona "
    "nevada utah georgia carolina virginia kentucky tennessee ohio michigan minnesota "
    "wisconsin iowa kansas nebraska dakota wyoming idaho washington jersey brooklyn "
    "manhattan hollywood nashville memphis orleans savannah charleston portland phoenix "
    "dallas houston atlanta detroit philadelphia pittsburgh baltimore richmond santa "
    "monterey sonoma yosemite yellowstone tahiti jamaica bahamas mexico canada brazil "
    "peru chile argentina italy france spain portugal greece ireland scotland england "
    "wales iceland norway sweden denmark finland holland belgium switzerland austria "
    "germany poland morocco egypt kenya india japan china korea thailand vietnam "
    "australia zealand"
)

_INSTRUMENTS = _words(
    "guitar piano violin drum trumpet saxophone flute ukulele harp cello banjo "
    "accordion harmonica clarinet trombone tuba xylophone tambourine mandolin bagpipes "
    "microphone headphones turntable cassette"
)

_USES = _words(
    "storage decoration seating sleeping drinking reading lighting display serving "
    "carrying organizing cooking dining lounging relaxing working studying hiking "
    "travel gifting protection hydration timekeeping grooming styling entertaining "
    "gardening napping"
)

_SHAPED_LIKE = _words(
    "cloud star heart moon leaf flower fish cat owl house tree apple pear egg shell "
    "wave drop diamond hexagon bone bear bunny whale cactus pineapple mushroom rocket "
    "crown donut bird acorn pebble petal teardrop balloon"
)

OPEN_TOPICS: tuple[OpenTopic, ...] = (
    OpenTopic(
        "text",
        "text",
        (
            "What word is written on the label?",
            "What word is printed on the {p}",
            "What does the text on the {p} say?",
            "What brand name appears on the tag",
            "What word appears on the tag attached to the {p}?",
            "What is the word written on the {p}?",
        ),
        _TEXT_WORDS,
        labels=("", "", "text", "ocr", "text recognition"),
    ),
    OpenTopic(
        "animal",
        "other",
        (
            "What animal is depicted",
            "What animal is depicted on the {p}?",
            "Which animal appears in the {p} artwork",
            "What animal is shown on the {p}?",
        ),
        _ANIMALS,
        labels=("", "", "other"),
    ),
    OpenTopic(
        "texture",
        "texture",
        (
            "What is the apparent texture of the {p} fabric",
            "What is the texture of the fabric",
            "What texture does the {p} surface have?",
            "How would you describe the texture of the {p}?",
        ),
        _TEXTURES,
        kinds=frozenset({"sofa", "pillow", "bed", "chair", "rug", "backpack", "shoes"}),
        labels=("", "texture"),
    ),
    OpenTopic(
        "finish",
        "texture",
        (
            "What finish does the {p} have?",
            "What is the finish of the {p} surface",
            "What kind of finish is on the {p}?",
        ),
        _FINISHES,
        kinds=frozenset({"table", "lamp", "shelf", "vase", "mug", "clock", "mirror", "bottle"}),
        labels=("", "finish", "texture"),
    ),
    OpenTopic(
        "size",
        "size",
        ("What size is the {p}", "What is the size of the {p}?", "What size would the {p} be?"),
        _SIZES,
        labels=("", "size", "dimensions"),
    ),
    OpenTopic(
        "metal",
        "material",
        (
            "What metal appears to be used",
            "What metal is the {p} frame made of?",
            "What kind of metal is used on the {p}?",
        ),
        _METALS,
        kinds=frozenset({"lamp", "clock", "mirror", "table", "chair", "bed", "shelf", "bottle"}),
        labels=("", "material"),
    ),
    OpenTopic(
        "wood",
        "material",
        ("What type of wood is the {p} made of?", "What wood appears to be used for the {p}"),
        _WOODS,
        kinds=frozenset({"table", "chair", "bed", "shelf", "clock", "mirror"}),
        labels=("", "material"),
    ),
    OpenTopic(
        "fabric",
        "material",
        ("What fabric is the {p} made of?", "What is the {p} upholstered in?"),
        _FABRICS,
        kinds=frozenset({"sofa", "pillow", "bed", "chair", "rug", "backpack"}),
        labels=("", "material", "fabric"),
    ),
    OpenTopic(
        "closure",
        "product_type",
        ("What is the type of closure on the {p}", "What type of fastening does the {p} use?"),
        _CLOSURES,
        kinds=frozenset({"shoes", "backpack", "case", "pillow"}),
        labels=("",),
    ),
    OpenTopic(
        "attached",
        "other",
        (
            "What is attached to the {p}?",
            "What is hanging from the {p}",
            "What is fixed to the {p}?",
        ),
        _ATTACHED,
        labels=("", "other"),
    ),
    OpenTopic(
        "flower",
        "other",
        ("What flower is depicted on the {p}?", "What plant is shown in the print?"),
        _FLOWERS,
        labels=("", "other"),
    ),
    OpenTopic(
        "food",
        "other",
        ("What fruit or food is pictured on the {p}?", "What food item is illustrated on the {p}"),
        _FOODS,
        labels=("",),
    ),
    OpenTopic(
        "room",
        "other",
        ("What room is the {p} meant for?", "In what room would this {p} most likely be used?"),
        _ROOMS,
        labels=("", "other"),
    ),
    OpenTopic(
        "symbol",
        "other",
        ("What symbol is printed on the {p}?", "What motif decorates the {p}"),
        _SYMBOLS,
        labels=("",),
    ),
    OpenTopic(
        "occasion",
        "other",
        ("What occasion is the {p} suited for?", "What season is this {p} intended for"),
        _OCCASIONS,
        labels=("",),
    ),
    OpenTopic(
        "figure",
        "other",
        ("What character is shown on the {p}?", "What figure is illustrated on the {p}"),
        _FIGURES,
        labels=("",),
    ),
    OpenTopic(
        "vehicle",
        "other",
        ("What vehicle is pictured on the {p}?",),
        _VEHICLES,
        labels=("",),
    ),
    OpenTopic(
        "sport",
        "other",
        ("What sport is the {p} designed for?", "What activity is this {p} made for?"),
        _SPORTS,
        kinds=frozenset({"shoes", "backpack", "bottle", "case"}),
        labels=("",),
    ),
    OpenTopic(
        "stone",
        "material",
        ("What stone is the {p} made of?", "What material is the {p} top made from?"),
        _STONES,
        kinds=frozenset({"table", "vase", "clock", "lamp"}),
        labels=("", "material"),
    ),
    OpenTopic(
        "part",
        "other",
        ("What part of the {p} is visible at the top?", "What is on top of the {p}?"),
        _PARTS,
        labels=("",),
    ),
    OpenTopic(
        "theme",
        "other",
        ("What theme does the {p} decor follow?", "What theme is the {p} print?"),
        _THEMES,
        labels=("",),
    ),
    OpenTopic(
        "name",
        "text",
        (
            "What name is embroidered on the {p}?",
            "What name is printed on the {p}",
            "What name is written on the tag?",
        ),
        _NAMES,
        labels=("", "text"),
    ),
    OpenTopic(
        "place",
        "text",
        ("What place name is printed on the {p}?", "What city or state is written on the {p}"),
        _PLACES,
        labels=("", "text"),
    ),
    OpenTopic(
        "instrument",
        "other",
        ("What musical instrument is shown on the {p}?",),
        _INSTRUMENTS,
        labels=("",),
    ),
    OpenTopic(
        "use",
        "other",
        ("What is the {p} mainly used for?", "What purpose does the {p} serve"),
        _USES,
        labels=("", "other"),
    ),
    OpenTopic(
        "shaped_like",
        "other",
        ("What is the {p} decoration shaped like?",),
        _SHAPED_LIKE,
        labels=("",),
    ),
    OpenTopic(
        "shade",
        "color",
        ("What exact shade is the trim of the {p}?", "What is the accent colour on the tag?"),
        _SHADES,
        labels=("", "color", "colour"),
    ),
)
"""Open question families, in no particular order (the generator weighs them itself)."""

# "A or B?" questions the renders cannot settle: (wording, options). The first option is the
# more frequent answer, as in real curations.
OPEN_CHOICES: tuple[tuple[str, tuple[str, str]], ...] = (
    ("Is the {p} hard or soft?", ("soft", "hard")),
    ("Is the surface matte or shiny", ("shiny", "matte")),
    ("Is the {p} on the left or right", ("right", "left")),
    ("Is the {p} for indoor or outdoor use?", ("indoor", "outdoor")),
    ("Is the lid open or closed?", ("closed", "open")),
    ("Is the {p} new or used", ("new", "used")),
    ("Does the {p} look heavy or light?", ("light", "heavy")),
    ("Is the {p} facing left or right?", ("left", "right")),
    ("Is the background white or gray?", ("white", "gray")),
    ("Is the {p} glossy or matte?", ("matte", "glossy")),
    ("Is the {p} modern or traditional?", ("modern", "traditional")),
    ("Is the {p} tall or short?", ("short", "tall")),
    ("Is the {p} handmade or manufactured?", ("manufactured", "handmade")),
    ("Is this {p} for adults or children?", ("adults", "children")),
    ("Is the {p} rigid or flexible?", ("rigid", "flexible")),
    ("Is the edge curved or straight?", ("straight", "curved")),
)
